"""Helpers shared by the VLESS and Trojan integration tests: a socks front to drive a
client-side proxy with curl and SOCKS5 UDP, a server that records the bytes it receives
(fallback destinations), and chain set-ups in both directions.

Everything is bounded in time and count and talks to loopback only."""

import socket
import socketserver
import struct
import threading
import time

import harness
from harness import LOOPBACK


def socks_udp_round_trip(socks_port, target_port, payloads, attempts=3):
    """SOCKS5 UDP ASSOCIATE on socks_port, then each payload to LOOPBACK:target_port;
    returns the replies' payloads (None for a payload with no reply)."""
    replies = []
    with harness.connect(socks_port) as control:
        control.sendall(b"\x05\x01\x00")
        if harness.recv_exact(control, 2) != b"\x05\x00":
            raise AssertionError("socks front refused the greeting")
        control.sendall(b"\x05\x03\x00\x01" + b"\x00" * 6)
        rep, relay_host, relay_port = harness.read_socks5_reply(control)
        if rep != 0:
            raise AssertionError(f"UDP ASSOCIATE refused: {rep}")
        if relay_host in ("0.0.0.0", "::"):
            relay_host = LOOPBACK
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(2)
            header = b"\x00\x00\x00" + harness.socks5_address(LOOPBACK, target_port)
            for payload in payloads:
                reply = None
                for _ in range(attempts):  # UDP may be dropped: a bounded number of tries
                    udp.sendto(header + payload, (relay_host, relay_port))
                    try:
                        data, _ = udp.recvfrom(65536)
                    except socket.timeout:
                        continue
                    if data[:3] == b"\x00\x00\x00" and data[3] == 1:
                        reply = data[10:]
                        break
                replies.append(reply)
    return replies


class _RecordingHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(data) < 1 << 20:
            try:
                chunk = self.request.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if self.server.reply is not None and self.server.reply_after in data:
                self.request.sendall(self.server.reply)
        with self.server.lock:
            self.server.received.append(data)


class _RecordingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UnixRecordingServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class RecordingServer:
    """A TCP server that keeps every connection's bytes; answers `reply` once it has seen
    `reply_after` (so a client can tell its bytes arrived)."""

    def __init__(self, reply=REPLY, reply_after=b"\r\n\r\n", unix_path=None):
        if unix_path is None:
            self.server = _RecordingServer((LOOPBACK, 0), _RecordingHandler)
            self.port = self.server.server_address[1]
        else:
            self.server = _UnixRecordingServer(unix_path, _RecordingHandler)
            self.port = None
        self.server.received = []
        self.server.lock = threading.Lock()
        self.server.reply = reply
        self.server.reply_after = reply_after
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def received(self, count=1, timeout=5):
        """The first `count` connections' bytes, once they have ended."""
        harness.wait_until(lambda: len(self.server.received) >= count, timeout)
        with self.server.lock:
            return list(self.server.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def recording_server(resources, **kwargs):
    server = RecordingServer(**kwargs)
    resources.add(server.close)
    return server


def proxy_header_v1(client, server):
    """What a fallback gets first with xver 1, for a loopback client socket."""
    src_host, src_port = client.getsockname()[:2]
    dst_host, dst_port = server
    return f"PROXY TCP4 {src_host} {dst_host} {src_port} {dst_port}\r\n".encode()


def proxy_header_v2(client, server):
    src_host, src_port = client.getsockname()[:2]
    dst_host, dst_port = server
    return (b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a\x21\x11\x00\x0c" +
            socket.inet_aton(src_host) + socket.inet_aton(dst_host) +
            struct.pack("!HH", src_port, dst_port))
