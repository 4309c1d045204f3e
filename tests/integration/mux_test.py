#!/usr/bin/env python3
"""Mux.Cool (spec/mux.md) on the server side: Debian's v2ray 4.34 as the client, with
`mux: {enabled: true, concurrency: 8}` on its VLESS outbound, to the server under test's
VLESS inbound: parallel TCP transfers through v2ray's socks front (bytes checked) and UDP
through its SOCKS5 UDP (v2ray 4.34 sends mux UDP as a New UDP sub-session, no XUDP).
Raw frames check the spec's vectors: a New TCP with data echoed back as Keep, End
answered with End, and Keep for a never-opened session answered with End."""

import socket
import struct
import subprocess
import threading
import time

import harness
import proxy_chain
from harness import LOOPBACK, curl
from trojan_test import trojan_inbound, trojan_outbound
from vless_test import request, vless_inbound, vless_outbound
from vmess_test import vmess_inbound, vmess_outbound


def mux_outbound(port, make=vless_outbound):
    outbound = make(port)
    outbound["mux"] = {"enabled": True, "concurrency": 8}
    return outbound


def frame(session_id, status, option, meta_tail=b"", data=None):
    meta = struct.pack("!HBB", session_id, status, option) + meta_tail
    out = struct.pack("!H", len(meta)) + meta
    if data is not None:
        out += struct.pack("!H", len(data)) + data
    return out


def read_frame(sock):
    """One frame as (session_id, status, option, meta_tail, data)."""
    meta_len = struct.unpack("!H", harness.recv_exact(sock, 2))[0]
    meta = harness.recv_exact(sock, meta_len)
    session_id, status, option = struct.unpack("!HBB", meta[:4])
    data = None
    if option & 1:
        size = struct.unpack("!H", harness.recv_exact(sock, 2))[0]
        data = harness.recv_exact(sock, size)
    return session_id, status, option, meta[4:], data


class MuxServerTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.server_port = harness.free_port()
        self.server = self.start_server(harness.base_config([vless_inbound(self.server_port)]))

    def v2ray_front(self):
        socks_port = harness.free_port(udp_too=True)
        config = harness.base_config([harness.socks_inbound(socks_port, udp=True)],
                                     [mux_outbound(self.server_port)])
        self.start_server(config, name="v2ray-client", impl="v2ray")
        return socks_port

    def test_parallel_tcp_from_v2ray_mux(self):
        origin = harness.http_origin(self.res)
        socks_port = self.v2ray_front()
        sizes = [100, 5000, 70000, 1 << 20, 3 << 20, 12345]
        results = [None] * len(sizes)

        def fetch(i):
            results[i] = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                              origin.url(f"/size/{sizes[i]}", host="localhost"), timeout=30)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(sizes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for size, result in zip(sizes, results):
            self.assertIsNotNone(result)
            self.assert_curl_ok(result, b"x" * size)
        # And again on the connection v2ray keeps open.
        self.assert_curl_ok(curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                                 origin.url("/size/777", host="localhost")), b"x" * 777)

    def test_udp_from_v2ray_mux(self):
        udp_echo = harness.echo_server(self.res, "udp")
        socks_port = self.v2ray_front()
        payloads = [b"ping over mux udp", b"\x00" * 1200, b"q" * 1400]
        replies = proxy_chain.socks_udp_round_trip(socks_port, udp_echo.port, payloads)
        self.assertEqual(replies, payloads)

    def test_raw_frames(self):
        echo = harness.echo_server(self.res, "tcp")
        target = struct.pack("!H", echo.port) + b"\x01" + socket.inet_aton(LOOPBACK)
        with harness.connect(self.server_port) as sock:
            sock.sendall(request(3, 0) + frame(1, 1, 1, b"\x01" + target, b"hello"))
            self.assertEqual(harness.recv_exact(sock, 2), b"\x00\x00")  # VLESS response
            self.assertEqual(read_frame(sock), (1, 2, 1, b"", b"hello"))
            sock.sendall(frame(1, 2, 1, b"", b"world"))
            self.assertEqual(read_frame(sock), (1, 2, 1, b"", b"world"))
            # Keep for a session never opened: answered with End.
            sock.sendall(frame(7, 2, 1, b"", b"lost"))
            self.assertEqual(read_frame(sock)[:3], (7, 3, 0))
            sock.sendall(frame(0, 4, 0))  # KeepAlive: nothing comes back
            sock.sendall(frame(1, 3, 0))
            self.assertEqual(read_frame(sock)[:2], (1, 3))
            # UDP sub-session (no XUDP): plain datagrams both ways.
            udp_echo = harness.echo_server(self.res, "udp")
            udp_target = struct.pack("!H", udp_echo.port) + b"\x01" + socket.inet_aton(LOOPBACK)
            sock.sendall(frame(2, 1, 1, b"\x02" + udp_target, b"dgram"))
            self.assertEqual(read_frame(sock), (2, 2, 1, b"", b"dgram"))

    @harness.xsup_only("v2ray 4.34 has no XUDP")
    def test_raw_xudp(self):
        udp_echo = harness.echo_server(self.res, "udp")
        udp_target = struct.pack("!H", udp_echo.port) + b"\x01" + socket.inet_aton(LOOPBACK)
        with harness.connect(self.server_port) as sock:
            sock.sendall(request(3, 0))
            self.assertEqual(harness.recv_exact(sock, 2), b"\x00\x00")
            # XUDP: session 0 with a Global ID; replies carry the source address.
            gid = bytes(range(1, 9))
            sock.sendall(frame(0, 1, 1, b"\x02" + udp_target + gid, b"xudp"))
            self.assertEqual(read_frame(sock), (0, 2, 1, b"\x02" + udp_target, b"xudp"))
            sock.sendall(frame(0, 2, 1, b"\x02" + udp_target, b"again"))
            self.assertEqual(read_frame(sock), (0, 2, 1, b"\x02" + udp_target, b"again"))

    @harness.xsup_only("v2ray 4.34 has no XUDP")
    def test_xudp_global_id_keeps_the_udp_port(self):
        """spec/mux.md §3: a reconnect with the same Global ID within a minute reuses the
        outbound UDP socket (the echo sees the same source port); another ID does not.
        The table is per worker process: one worker here, so both connections meet it."""
        port = harness.free_port()
        config = harness.base_config([vless_inbound(port)])
        config["xsup"] = {"workers": 1}
        server = self.start_server(config, name="one-worker")
        reporter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.res.add(reporter.close)
        reporter.bind((LOOPBACK, 0))
        reporter.settimeout(0.2)
        stop = threading.Event()

        def report():  # answers each datagram with the port it came from
            while not stop.is_set():
                try:
                    _, source = reporter.recvfrom(2048)
                except OSError:
                    continue
                reporter.sendto(str(source[1]).encode(), source)

        thread = threading.Thread(target=report, daemon=True)
        thread.start()
        self.res.add(lambda: (stop.set(), thread.join(timeout=5)))
        target = struct.pack("!H", reporter.getsockname()[1]) + b"\x01" + socket.inet_aton(LOOPBACK)

        def source_port(gid):
            with harness.connect(port) as sock:
                sock.sendall(request(3, 0) + frame(0, 1, 1, b"\x02" + target + gid, b"?"))
                self.assertEqual(harness.recv_exact(sock, 2), b"\x00\x00")
                session_id, status, _, _, data = read_frame(sock)
                self.assertEqual((session_id, status), (0, 2))
                return int(data)

        first = source_port(b"\x11" * 8)
        # The server parks the session once it has seen that connection end.
        time.sleep(0.5)
        self.assertEqual(source_port(b"\x11" * 8), first)
        self.assertIn("xudp session to", server.log())
        time.sleep(0.5)
        self.assertNotEqual(source_port(b"\x22" * 8), first)

    @harness.xsup_only("xsup closes a mux connection on an unknown status")
    def test_bad_status_closes(self):
        with harness.connect(self.server_port) as sock:
            sock.sendall(request(3, 0) + frame(1, 9, 0))
            self.assertEqual(harness.recv_exact(sock, 2), b"\x00\x00")
            self.assertEqual(harness.recv_until_closed(sock), (b"", True))
        self.assertTrue(self.server.alive())


class CarrierMuxTest(harness.IntegrationTest):
    """Mux.Cool carried by Trojan (v2ray names the target v1.mux.cool) and by VMess (v2ray
    sends command 3): TCP and UDP from v2ray's mux client."""

    def check_v2ray_mux(self, inbound, make_outbound):
        server_port = harness.free_port()
        self.start_server(harness.base_config([inbound(server_port)]))
        socks_port = harness.free_port(udp_too=True)
        config = harness.base_config([harness.socks_inbound(socks_port, udp=True)],
                                     [mux_outbound(server_port, make_outbound)])
        self.start_server(config, name="v2ray-client", impl="v2ray")
        origin = harness.http_origin(self.res)
        for size in (100, 1 << 20):
            self.assert_curl_ok(curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                                     origin.url(f"/size/{size}", host="localhost"), timeout=20),
                                b"x" * size)
        udp_echo = harness.echo_server(self.res, "udp")
        payloads = [b"ping over mux udp", b"t" * 1000]
        self.assertEqual(proxy_chain.socks_udp_round_trip(socks_port, udp_echo.port, payloads),
                         payloads)

    def test_tcp_and_udp_from_v2ray_trojan_mux(self):
        self.check_v2ray_mux(trojan_inbound, trojan_outbound)

    def test_tcp_and_udp_from_v2ray_vmess_mux(self):
        self.check_v2ray_mux(vmess_inbound,
                             lambda port: vmess_outbound(port, "chacha20-poly1305"))


def established_to(port):
    """TCP connections established to 127.0.0.1:port, as ss(8) counts them."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


class MuxClientTest(harness.IntegrationTest):
    """The client side: an xsup socks front whose outbound has `mux.enabled`, to a v2ray
    server and to an xsup server, for VLESS, VMess and Trojan. Parallel TCP transfers and
    UDP (XUDP frames; v2ray ignores the Global ID and answers plain datagrams) all ride one
    connection."""

    def check_mux_client(self, inbound, make_outbound, server_impl):
        server_port = harness.free_port()
        self.start_server(harness.base_config([inbound(server_port)]),
                          name=f"{server_impl}-server", impl=server_impl)
        outbound = make_outbound(server_port)
        outbound["mux"] = {"enabled": True, "concurrency": 8}
        socks_port = harness.free_port(udp_too=True)
        client = harness.base_config([harness.socks_inbound(socks_port, udp=True)], [outbound])
        client["xsup"] = {"workers": 1}  # each worker keeps its own connections
        self.start_server(client, name="xsup-client", impl="xsup")
        origin = harness.http_origin(self.res)
        sizes = [100, 70000, 1 << 20, 3 << 20, 5000]
        results = [None] * len(sizes)

        def fetch(i):
            results[i] = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                              origin.url(f"/size/{sizes[i]}", host="localhost"), timeout=30)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(sizes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for size, result in zip(sizes, results):
            self.assertIsNotNone(result)
            self.assert_curl_ok(result, b"x" * size)
        udp_echo = harness.echo_server(self.res, "udp")
        payloads = [b"ping from the mux client", b"u" * 1200]
        self.assertEqual(proxy_chain.socks_udp_round_trip(socks_port, udp_echo.port, payloads),
                         payloads)
        # Five TCP sessions and a UDP one, under a concurrency of 8: one connection, kept
        # open (16 s idle) for the next session.
        self.assertEqual(established_to(server_port), 1)
        self.assert_curl_ok(curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                                 origin.url("/size/777", host="localhost")), b"x" * 777)
        self.assertEqual(established_to(server_port), 1)

    def test_vless_to_v2ray(self):
        self.check_mux_client(vless_inbound, vless_outbound, "v2ray")

    def test_vmess_to_v2ray(self):
        self.check_mux_client(vmess_inbound, lambda port: vmess_outbound(port, "aes-128-gcm"),
                              "v2ray")

    def test_trojan_to_v2ray(self):
        self.check_mux_client(trojan_inbound, trojan_outbound, "v2ray")

    def test_vless_to_xsup(self):
        self.check_mux_client(vless_inbound, vless_outbound, "xsup")

    def test_vmess_to_xsup(self):
        self.check_mux_client(vmess_inbound,
                              lambda port: vmess_outbound(port, "chacha20-poly1305"), "xsup")


if __name__ == "__main__":
    harness.main()
