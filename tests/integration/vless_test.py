#!/usr/bin/env python3
"""VLESS over plain TCP (spec/vless.md) against Debian's v2ray 4.34, both ways:
  v2ray client (socks front -> vless outbound) -> server under test's vless inbound;
  server under test (socks front -> vless outbound) -> v2ray's vless inbound;
for TCP (curl through the socks front) and UDP (SOCKS5 UDP to a UDP echo), plus raw bytes
for the spec's bad-input behaviour and the fallbacks (with PROXY v1/v2 headers).
Under XSUP_TEST_IMPL=v2ray every side is v2ray."""

import os
import socket
import struct
import time
import uuid

import harness
import proxy_chain
from harness import LOOPBACK, curl

USER_ID = "b831381d-6324-4d53-ad4f-8cda48b30811"
USER_BYTES = uuid.UUID(USER_ID).bytes
EMAIL = "alice@example.com"


def vless_inbound(port, fallbacks=None, tag="vless-in"):
    settings = {"clients": [{"id": USER_ID, "email": EMAIL, "level": 0}], "decryption": "none"}
    if fallbacks is not None:
        settings["fallbacks"] = fallbacks
    return {"tag": tag, "listen": LOOPBACK, "port": port, "protocol": "vless",
            "settings": settings}


def vless_outbound(port, user_id=USER_ID):
    return {"tag": "proxy", "protocol": "vless",
            "settings": {"vnext": [{"address": LOOPBACK, "port": port,
                                    "users": [{"id": user_id, "encryption": "none"}]}]}}


def request(command, port, host=LOOPBACK, user=USER_BYTES, addons=b""):
    """A VLESS request header (spec/vless.md §3) to an IPv4 target."""
    head = b"\x00" + user + bytes([len(addons)]) + addons + bytes([command])
    if command in (1, 2):
        head += struct.pack("!H", port) + b"\x01" + socket.inet_aton(host)
    return head


class VlessChainTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.udp_echo = harness.echo_server(self.res, "udp")

    def front(self, proxy_port, outbound, name, impl=None):
        """A client-side proxy: a socks inbound (with UDP) forwarding to `outbound`."""
        socks_port = harness.free_port(udp_too=True)
        config = harness.base_config([harness.socks_inbound(socks_port, udp=True)], [outbound])
        self.start_server(config, name=name, impl=impl)
        return socks_port

    def v2ray_client_to_server_under_test(self):
        server_port = harness.free_port()
        self.server = self.start_server(harness.base_config([vless_inbound(server_port)]))
        return self.front(server_port, vless_outbound(server_port), "v2ray-client", "v2ray")

    def server_under_test_to_v2ray(self):
        server_port = harness.free_port()
        self.start_server(harness.base_config([vless_inbound(server_port)]), name="v2ray-server",
                          impl="v2ray")
        return self.front(server_port, vless_outbound(server_port), "client")

    def check_tcp(self, socks_port):
        for size in (100, 1 << 20):
            result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                          self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
            self.assert_curl_ok(result, b"x" * size)

    def check_udp(self, socks_port):
        # v2ray 4.34 carries UDP in 2 KiB buffers: larger datagrams are cut on its side.
        payloads = [b"ping over vless udp", b"\x00" * 1200, b"z" * 1400]
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

    def test_wrong_id_is_refused_end_to_end(self):
        server_port = harness.free_port()
        self.server = self.start_server(harness.base_config([vless_inbound(server_port)]))
        socks_port = self.front(server_port,
                                vless_outbound(server_port, "11111111-2222-4333-8444-555555555555"),
                                "v2ray-client", "v2ray")
        result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                      self.origin.url("/size/10", host="localhost"), timeout=10)
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])


class VlessWireTest(harness.IntegrationTest):
    """Raw bytes against the server under test's VLESS inbound (spec/vless.md §8, §10)."""

    def setUp(self):
        super().setUp()
        self.echo = harness.echo_server(self.res, "tcp")
        self.udp_echo = harness.echo_server(self.res, "udp")
        self.port = harness.free_port()
        self.server = self.start_server(
            harness.base_config([vless_inbound(self.port)], handshake=2))

    def assert_closed_silently(self, sock, limit=6):
        data, closed = harness.recv_until_closed(sock, limit_seconds=limit)
        self.assertEqual(data, b"")
        self.assertTrue(closed, "the server kept the connection open")

    def test_tcp_request_answers_00_00_then_payload(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port) + b"hello")
            self.assertEqual(harness.recv_exact(sock, 7), b"\x00\x00hello")
            sock.sendall(b" again")
            self.assertEqual(harness.recv_exact(sock, 6), b" again")

    def test_udp_request_frames_datagrams(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(2, self.udp_echo.port) + b"\x00\x05hello" + b"\x00\x03abc")
            self.assertEqual(harness.recv_exact(sock, 2), b"\x00\x00")
            frames = []
            for _ in range(2):  # the echo may answer in either order
                size = struct.unpack("!H", harness.recv_exact(sock, 2))[0]
                frames.append(harness.recv_exact(sock, size))
            self.assertEqual(sorted(frames), [b"abc", b"hello"])

    @harness.xsup_only("v2ray 4.34 cuts datagrams at 2 KiB")
    def test_large_datagrams_up_to_8190_bytes(self):
        big = bytes(range(256)) * 31 + b"\x01" * 254  # 8190 bytes, the writer's limit
        with harness.connect(self.port) as sock:
            sock.sendall(request(2, self.udp_echo.port) + struct.pack("!H", len(big)) + big)
            self.assertEqual(harness.recv_exact(sock, 2), b"\x00\x00")
            self.assertEqual(harness.recv_exact(sock, 2 + len(big)),
                             struct.pack("!H", len(big)) + big)

    @harness.skip_under_v2ray("v2ray 4.34 matches all 16 bytes of the id")
    def test_bytes_6_and_7_of_the_id_are_ignored(self):
        routed = USER_BYTES[:6] + b"\xab\xcd" + USER_BYTES[8:]
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port, user=routed) + b"hi")
            self.assertEqual(harness.recv_exact(sock, 4), b"\x00\x00hi")

    def test_wrong_id_is_closed_without_a_reply(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port, user=b"\x11" * 16) + b"hello")
            self.assert_closed_silently(sock)

    def test_wrong_version_is_closed(self):
        with harness.connect(self.port) as sock:
            sock.sendall(b"\x01" + request(1, self.echo.port)[1:] + b"hello")
            self.assert_closed_silently(sock)

    def test_truncated_header_times_out(self):
        started = time.monotonic()
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port)[:20])
            self.assert_closed_silently(sock, limit=8)
        self.assertLess(time.monotonic() - started, 8)

    def test_oversized_garbage_is_closed(self):
        with harness.connect(self.port) as sock:
            with_bad_addons = request(1, self.echo.port, addons=b"\x0a\xff" + b"x" * 100)
            sock.sendall(with_bad_addons)
            self.assert_closed_silently(sock)

    @harness.xsup_only("the log line is xsup's")
    @harness.xsup_only("xsup answers the VLESS header before reading Mux.Cool frames")
    def test_mux_with_a_bad_frame_is_closed(self):
        # Mux itself: mux_test.py. A metadata length under 4 ends the connection.
        with harness.connect(self.port) as sock:
            sock.sendall(request(3, 0) + b"\x00\x00")
            self.assertEqual(harness.recv_until_closed(sock), (b"\x00\x00", True))
        harness.wait_until(lambda: "mux: metadata too short" in self.server.log(), 5)
        self.assertIn("mux: metadata too short", self.server.log())

    def test_reverse_is_refused(self):
        with harness.connect(self.port) as sock:
            sock.sendall(request(4, 0))
            self.assert_closed_silently(sock)

    @harness.skip_under_v2ray("v2ray 4.34 predates Vision and ignores the flow")
    def test_vision_flow_for_a_user_without_it_is_refused(self):
        vision = b"\x0a\x10xtls-rprx-vision"
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, self.echo.port, addons=vision) + b"hello")
            self.assert_closed_silently(sock)


class VlessFallbackTest(harness.IntegrationTest):
    """spec/vless.md §9: what is not VLESS reaches the fallback byte for byte."""

    def setUp(self):
        super().setUp()
        self.default = proxy_chain.recording_server(self.res)
        self.ws = proxy_chain.recording_server(self.res)
        self.port = harness.free_port()

    def start(self, xver=0):
        fallbacks = [{"dest": self.default.port, "xver": xver},
                     {"path": "/ws", "dest": f"{LOOPBACK}:{self.ws.port}", "xver": xver}]
        self.server = self.start_server(
            harness.base_config([vless_inbound(self.port, fallbacks)], handshake=3))

    def send(self, data, expect_reply=True):
        with harness.connect(self.port) as sock:
            sock.sendall(data)
            if expect_reply:
                self.assertEqual(harness.recv_exact(sock, len(proxy_chain.REPLY)), proxy_chain.REPLY)
            else:
                time.sleep(0.3)
            sock.shutdown(socket.SHUT_WR)
            harness.recv_until_closed(sock, limit_seconds=5)
            return sock.getsockname()

    def test_http_request_reaches_the_default(self):
        self.start()
        data = b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"
        self.send(data)
        self.assertEqual(self.default.received(), [data])

    def test_path_picks_the_entry(self):
        self.start()
        data = b"GET /ws HTTP/1.1\r\nHost: example.com\r\n\r\n"
        self.send(data)
        self.assertEqual(self.ws.received(), [data])
        self.assertEqual(self.default.server.received, [])

    @harness.skip_under_v2ray("v2ray 4.34 ends the path at ' ' only; Xray also at '?'")
    def test_path_ends_at_the_query(self):
        self.start()
        data = b"GET /ws?ed=2048 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        self.send(data)
        self.assertEqual(self.ws.received(), [data])

    def test_short_first_read_falls_back(self):
        self.start()
        self.send(b"0123456789", expect_reply=False)
        self.assertEqual(self.default.received(), [b"0123456789"])

    def test_unknown_id_falls_back_with_every_byte(self):
        self.start()
        data = request(1, 80, user=b"\x22" * 16) + b"GET / HTTP/1.1\r\n\r\n"
        self.send(data)
        self.assertEqual(self.default.received(), [data])

    def test_proxy_protocol_v1(self):
        self.start(xver=1)
        data = b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"
        with harness.connect(self.port) as sock:
            sock.sendall(data)
            self.assertEqual(harness.recv_exact(sock, len(proxy_chain.REPLY)), proxy_chain.REPLY)
            header = proxy_chain.proxy_header_v1(sock, (LOOPBACK, self.port))
        self.assertEqual(self.default.received(), [header + data])

    def test_proxy_protocol_v2(self):
        self.start(xver=2)
        data = b"GET /ws HTTP/1.1\r\nHost: example.com\r\n\r\n"
        with harness.connect(self.port) as sock:
            sock.sendall(data)
            self.assertEqual(harness.recv_exact(sock, len(proxy_chain.REPLY)), proxy_chain.REPLY)
            header = proxy_chain.proxy_header_v2(sock, (LOOPBACK, self.port))
        self.assertEqual(self.ws.received(), [header + data])

    def test_unix_socket_dest(self):
        # The workers may run as another user (nobody when started as root): the socket
        # and the directories above it must let them in.
        directory = self.res.path("sockets")
        os.makedirs(directory, mode=0o755)
        os.chmod(os.path.dirname(directory), 0o755)
        path = os.path.join(directory, "fallback.sock")
        unix = proxy_chain.recording_server(self.res, unix_path=path)
        os.chmod(path, 0o666)
        abstract_name = f"xsup-itest-{os.getpid()}-{self.port}"
        abstract = proxy_chain.recording_server(self.res, unix_path="\0" + abstract_name)
        fallbacks = [{"dest": path}, {"path": "/abstract", "dest": "@" + abstract_name}]
        self.server = self.start_server(
            harness.base_config([vless_inbound(self.port, fallbacks)]))
        data = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
        self.send(data)
        self.assertEqual(unix.received(), [data])
        data = b"GET /abstract HTTP/1.1\r\nHost: example.com\r\n\r\n"
        self.send(data)
        self.assertEqual(abstract.received(), [data])

    def test_vless_still_served_with_fallbacks(self):
        echo = harness.echo_server(self.res, "tcp")
        self.start()
        with harness.connect(self.port) as sock:
            sock.sendall(request(1, echo.port) + b"hello")
            self.assertEqual(harness.recv_exact(sock, 7), b"\x00\x00hello")
        self.assertEqual(self.default.server.received, [])


if __name__ == "__main__":
    harness.main()
