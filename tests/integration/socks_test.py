#!/usr/bin/env python3
"""SOCKS inbound: SOCKS4/4a/5/5h via curl, RFC 1929 auth, BIND, UDP ASSOCIATE, HTTP on the
SOCKS port."""

import re
import socket
import struct

import harness
from harness import LOOPBACK, curl


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


class SocksNoAuthTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.udp_echo = harness.echo_server(self.res, "udp")
        self.port = harness.free_port(udp_too=True)
        self.server = self.start_server(harness.base_config(
            [harness.socks_inbound(self.port, udp=True)]))
        self.proxy = f"{LOOPBACK}:{self.port}"

    def test_curl_socks_versions(self):
        for flag, host in (("--socks4", LOOPBACK), ("--socks4a", "localhost"),
                           ("--socks5", LOOPBACK), ("--socks5-hostname", "localhost")):
            with self.subTest(flag=flag):
                result = curl(flag, self.proxy, self.origin.url("/size/1000", host=host))
                self.assert_curl_ok(result, b"x" * 1000)

    def test_ipv6_target(self):
        if not _ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        origin6 = harness.http_origin(self.res, host="::1")
        for flag in ("--socks5", "--socks5-hostname"):
            with self.subTest(flag=flag):
                result = curl(flag, self.proxy, origin6.url("/size/77"))
                self.assert_curl_ok(result, b"x" * 77)

    def test_large_download(self):
        size = 8 * 1024 * 1024
        result = curl("--socks5", self.proxy, self.origin.url(f"/size/{size}"), timeout=20)
        self.assert_curl_ok(result)
        self.assertEqual(len(result.stdout), size)

    def test_bind_is_refused_with_command_not_supported(self):
        with harness.connect(self.port) as sock:
            sock.sendall(b"\x05\x01\x00")
            self.assertEqual(harness.recv_exact(sock, 2), b"\x05\x00")
            sock.sendall(b"\x05\x02\x00" + harness.socks5_address(LOOPBACK, self.origin.port))
            rep, _, _ = harness.read_socks5_reply(sock)
            self.assertEqual(rep, 0x07, "BIND must be answered 'command not supported'")

    def test_udp_associate_round_trip(self):
        with harness.connect(self.port) as control:
            control.sendall(b"\x05\x01\x00")
            self.assertEqual(harness.recv_exact(control, 2), b"\x05\x00")
            # Our UDP source is not known yet: announce 0.0.0.0:0 (RFC 1928 §7).
            control.sendall(b"\x05\x03\x00\x01" + b"\x00" * 6)
            rep, relay_host, relay_port = harness.read_socks5_reply(control)
            self.assertEqual(rep, 0)
            if relay_host in ("0.0.0.0", "::"):
                relay_host = LOOPBACK
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.settimeout(2)
                header = b"\x00\x00\x00" + harness.socks5_address(LOOPBACK, self.udp_echo.port)
                payload = b"ping over socks udp"
                reply = None
                for _ in range(3):  # UDP may be dropped; retry a bounded number of times
                    udp.sendto(header + payload, (relay_host, relay_port))
                    try:
                        reply, _ = udp.recvfrom(65536)
                        break
                    except socket.timeout:
                        continue
                self.assertIsNotNone(reply, "no UDP reply through the SOCKS relay")
                self.assertEqual(reply[:3], b"\x00\x00\x00")
                self.assertEqual(reply[3], 1)
                self.assertEqual(socket.inet_ntoa(reply[4:8]), LOOPBACK)
                self.assertEqual(struct.unpack("!H", reply[8:10])[0], self.udp_echo.port)
                self.assertEqual(reply[10:], payload)

    @harness.skip_under_v2ray("v2ray 4.34's socks inbound has no HTTP fallback (Xray added it)")
    def test_http_request_on_socks_port(self):
        result = curl("-x", f"http://{self.proxy}", self.origin.url("/size/123"))
        self.assert_curl_ok(result, b"x" * 123)

    @harness.xsup_only("listener lines are xsup's log format")
    def test_listener_lines_logged(self):
        lines = self.server.log_lines()
        for kind in ("tcp", "udp"):
            endpoint = re.compile(rf"\b{kind} {re.escape(self.proxy)}(?!\d)")
            with self.subTest(kind=kind):
                self.assertTrue(
                    any("listening" in line and endpoint.search(line) for line in lines),
                    f"no line with 'listening' and '{kind} {self.proxy}' in:\n"
                    + "\n".join(lines))


class SocksPasswordTest(harness.IntegrationTest):
    USER, PASSWORD = "alice", "s3cret-pw"

    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.port = harness.free_port()
        self.server = self.start_server(harness.base_config(
            [harness.socks_inbound(self.port, accounts=[(self.USER, self.PASSWORD),
                                                        ("bob", "other")])]))
        self.proxy = f"{LOOPBACK}:{self.port}"

    def test_right_credentials(self):
        for flag in ("--socks5", "--socks5-hostname"):
            with self.subTest(flag=flag):
                result = curl(flag, self.proxy, "--proxy-user", f"{self.USER}:{self.PASSWORD}",
                              self.origin.url("/size/500", host="localhost"
                                              if flag == "--socks5-hostname" else LOOPBACK))
                self.assert_curl_ok(result, b"x" * 500)

    def test_wrong_credentials(self):
        for credentials in (f"{self.USER}:wrong", "mallory:s3cret-pw", f"bob:{self.PASSWORD}"):
            with self.subTest(credentials=credentials):
                result = curl("--socks5", self.proxy, "--proxy-user", credentials,
                              self.origin.url("/size/10"))
                self.assert_curl_fails(result)

    def test_no_credentials(self):
        self.assert_curl_fails(curl("--socks5", self.proxy, self.origin.url("/size/10")))

    def test_socks4_refused(self):
        self.assert_curl_fails(curl("--socks4", self.proxy, self.origin.url("/size/10")))
        self.assert_curl_fails(curl("--socks4a", self.proxy,
                                    self.origin.url("/size/10", host="localhost")))

    def test_pipelined_greeting_and_credentials(self):
        user, password = self.USER.encode(), self.PASSWORD.encode()
        greeting = b"\x05\x01\x02"
        credentials = b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password
        request = b"\x05\x01\x00" + harness.socks5_address(LOOPBACK, self.origin.port)
        with harness.connect(self.port) as sock:
            sock.sendall(greeting + credentials)  # one write, as v2ray's client does
            self.assertEqual(harness.recv_exact(sock, 2), b"\x05\x02")
            self.assertEqual(harness.recv_exact(sock, 2), b"\x01\x00")
            sock.sendall(request)
            rep, _, _ = harness.read_socks5_reply(sock)
            self.assertEqual(rep, 0)
            sock.sendall(b"GET /size/42 HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")
            data, closed = harness.recv_until_closed(sock)
            self.assertTrue(closed, "origin response did not end")
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
            self.assertTrue(data.endswith(b"\r\n\r\n" + b"x" * 42))


if __name__ == "__main__":
    harness.main()
