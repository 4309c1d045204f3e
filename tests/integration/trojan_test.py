#!/usr/bin/env python3
"""Trojan over plain TCP (spec/trojan.md; no TLS yet) against Debian's v2ray 4.34, both ways:
  v2ray client (socks front -> trojan outbound) -> server under test's trojan inbound;
  server under test (socks front -> trojan outbound) -> v2ray's trojan inbound;
for TCP (curl) and UDP (SOCKS5 UDP to a UDP echo), plus raw bytes for bad input and the
fallbacks. trojan-gfw needs TLS and is not a peer yet.
Under XSUP_TEST_IMPL=v2ray every side is v2ray."""

import hashlib
import socket
import struct
import time

import harness
import proxy_chain
from harness import LOOPBACK, curl

PASSWORD = "trojan-password"
KEY = hashlib.sha224(PASSWORD.encode()).hexdigest().encode()
EMAIL = "bob@example.com"


def trojan_inbound(port, fallbacks=None, tag="trojan-in"):
    settings = {"clients": [{"password": PASSWORD, "email": EMAIL}]}
    if fallbacks is not None:
        settings["fallbacks"] = fallbacks
    return {"tag": tag, "listen": LOOPBACK, "port": port, "protocol": "trojan",
            "settings": settings}


def trojan_outbound(port, password=PASSWORD):
    return {"tag": "proxy", "protocol": "trojan",
            "settings": {"servers": [{"address": LOOPBACK, "port": port, "password": password}]}}


def address(port, host=LOOPBACK):
    return b"\x01" + socket.inet_aton(host) + struct.pack("!H", port)


def request(command, port, key=KEY):
    return key + b"\r\n" + bytes([command]) + address(port) + b"\r\n"


def datagram(port, payload):
    return address(port) + struct.pack("!H", len(payload)) + b"\r\n" + payload


class TrojanChainTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.udp_echo = harness.echo_server(self.res, "udp")

    def front(self, proxy_port, outbound, name, impl=None):
        socks_port = harness.free_port(udp_too=True)
        config = harness.base_config([harness.socks_inbound(socks_port, udp=True)], [outbound])
        self.start_server(config, name=name, impl=impl)
        return socks_port

    def v2ray_client_to_server_under_test(self):
        server_port = harness.free_port()
        self.start_server(harness.base_config([trojan_inbound(server_port)]))
        return self.front(server_port, trojan_outbound(server_port), "v2ray-client", "v2ray")

    def server_under_test_to_v2ray(self):
        server_port = harness.free_port()
        self.start_server(harness.base_config([trojan_inbound(server_port)]), name="v2ray-server",
                          impl="v2ray")
        return self.front(server_port, trojan_outbound(server_port), "client")

    def check_tcp(self, socks_port):
        for size in (100, 1 << 20):
            result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                          self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
            self.assert_curl_ok(result, b"x" * size)

    def check_udp(self, socks_port):
        # v2ray 4.34 carries UDP in 2 KiB buffers: larger datagrams are cut on its side.
        payloads = [b"ping over trojan udp", b"\x00" * 1200, b"z" * 1400]
        replies = proxy_chain.socks_udp_round_trip(socks_port, self.udp_echo.port, payloads)
        self.assertEqual(replies, payloads)

    def test_tcp_v2ray_client_to_server(self):
        self.check_tcp(self.v2ray_client_to_server_under_test())

    def test_udp_v2ray_client_to_server(self):
        self.check_udp(self.v2ray_client_to_server_under_test())

    def test_tcp_client_to_v2ray_server(self):
        self.check_tcp(self.server_under_test_to_v2ray())

    def test_udp_client_to_v2ray_server(self):
        self.check_udp(self.server_under_test_to_v2ray())

    def test_wrong_password_is_refused_end_to_end(self):
        server_port = harness.free_port()
        self.start_server(harness.base_config([trojan_inbound(server_port)]))
        socks_port = self.front(server_port, trojan_outbound(server_port, "wrong"),
                                "v2ray-client", "v2ray")
        result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                      self.origin.url("/size/10", host="localhost"), timeout=10)
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])


class TrojanWireTest(harness.IntegrationTest):
    """Raw bytes against the server under test's Trojan inbound (spec/trojan.md §4, §6)."""

    def setUp(self):
        super().setUp()
        self.echo = harness.echo_server(self.res, "tcp")
        self.udp_echo = harness.echo_server(self.res, "udp")
        self.port = harness.free_port()
        self.server = self.start_server(
            harness.base_config([trojan_inbound(self.port)], handshake=2))

    def assert_closed_silently(self, sock, limit=6):
        data, closed = harness.recv_until_closed(sock, limit_seconds=limit)
        self.assertEqual(data, b"")
        self.assertTrue(closed, "the server kept the connection open")

    def test_connect_relays_without_a_response_header(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port) + b"hello")
            self.assertEqual(harness.recv_exact(sock, 5), b"hello")

    def test_udp_associate_frames_datagrams(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(3, self.udp_echo.port) + datagram(self.udp_echo.port, b"hello"))
            expected = datagram(self.udp_echo.port, b"hello")
            self.assertEqual(harness.recv_exact(sock, len(expected)), expected)

    def test_wrong_password_is_closed(self):
        bad = hashlib.sha224(b"nope").hexdigest().encode()
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port, key=bad) + b"hello")
            self.assert_closed_silently(sock)

    def test_uppercase_key_is_closed(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port, key=KEY.upper()) + b"hello")
            self.assert_closed_silently(sock)

    def test_short_first_read_is_closed(self):
        with harness.connect(self.port) as sock:
            sock.sendall(KEY[:40])
            self.assert_closed_silently(sock)

    def test_truncated_request_times_out(self):
        started = time.monotonic()
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port)[:62])
            self.assert_closed_silently(sock, limit=8)
        self.assertLess(time.monotonic() - started, 8)

    def test_oversized_datagram_ends_the_stream(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(3, self.udp_echo.port) + address(self.udp_echo.port) +
                         struct.pack("!H", 9000) + b"\r\n" + b"x" * 100)
            self.assert_closed_silently(sock)


class TrojanFallbackTest(harness.IntegrationTest):
    """spec/trojan.md §4: anything that is not Trojan reaches the fallback."""

    def setUp(self):
        super().setUp()
        self.default = proxy_chain.recording_server(self.res)
        self.port = harness.free_port()

    def start(self, xver=0):
        fallbacks = [{"dest": self.default.port, "xver": xver}]
        self.start_server(harness.base_config([trojan_inbound(self.port, fallbacks)], handshake=3))

    def exchange(self, data):
        with harness.connect(self.port) as sock:
            sock.sendall(data)
            self.assertEqual(harness.recv_exact(sock, len(proxy_chain.REPLY)), proxy_chain.REPLY)
            sock.shutdown(socket.SHUT_WR)
            harness.recv_until_closed(sock, limit_seconds=5)
            return sock.getsockname()

    def test_http_request_reaches_the_fallback(self):
        self.start()
        data = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
        self.exchange(data)
        self.assertEqual(self.default.received(), [data])

    def test_wrong_password_falls_back_with_every_byte(self):
        self.start()
        data = request(1, 80, key=hashlib.sha224(b"x").hexdigest().encode()) + b"\r\n\r\n"
        self.exchange(data)
        self.assertEqual(self.default.received(), [data])

    def test_proxy_protocol_v1(self):
        self.start(xver=1)
        data = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
        with harness.connect(self.port) as sock:
            sock.sendall(data)
            self.assertEqual(harness.recv_exact(sock, len(proxy_chain.REPLY)), proxy_chain.REPLY)
            header = proxy_chain.proxy_header_v1(sock, (LOOPBACK, self.port))
        self.assertEqual(self.default.received(), [header + data])


if __name__ == "__main__":
    harness.main()
