#!/usr/bin/env python3
"""Hostile clients: garbage, truncated handshakes, oversized headers and slowloris. Each bad
connection must be closed within a bounded time, good clients must keep being served, no
file descriptor may leak, and (xsup only) each bad connection logs one `rejected` line."""

import os
import random
import re
import socket
import threading
import time

import harness
from harness import LOOPBACK, curl

HANDSHAKE_SECONDS = 2
CLOSE_LIMIT = HANDSHAKE_SECONDS + 4  # generous bound for "closed, not hung"
FD_SLACK = 2
REJECTED = re.compile(r"\[(Info|Warning|Error)\].*?\[(\d+)\].*\brejected\b")


def closed_within(sock, seconds):
    """True if the peer closes (EOF or reset) within seconds; any data read is discarded."""
    _, closed = harness.recv_until_closed(sock, limit_seconds=seconds)
    return closed


class BadClients:
    """Each method opens one misbehaving connection and returns a failure message or None."""

    def __init__(self, socks_port, http_port, origin_port, seed):
        self.socks_port = socks_port
        self.http_port = http_port
        self.origin_port = origin_port
        self.random = random.Random(seed)

    def garbage(self, port):
        data = bytearray(self.random.getrandbits(8) for _ in range(512))
        data[0] = self.random.choice([b for b in range(256) if b not in (4, 5)])
        with harness.connect(port) as sock:
            try:
                sock.sendall(bytes(data) + b"\r\n\r\n")
            except OSError:
                return None  # already refused
            if not closed_within(sock, CLOSE_LIMIT):
                return f"garbage on port {port}: connection still open after {CLOSE_LIMIT}s"
        return None

    def truncated_socks5(self):
        with harness.connect(self.socks_port) as sock:
            sock.sendall(b"\x05\x01\x00")
            if harness.recv_exact(sock, 2) != b"\x05\x00":
                return "truncated socks5: unexpected method reply"
            # A domain request announcing 32 name bytes but carrying 3, then EOF.
            sock.sendall(b"\x05\x01\x00\x03\x20abc")
            sock.shutdown(socket.SHUT_WR)
            if not closed_within(sock, CLOSE_LIMIT):
                return "truncated socks5: server did not close after our EOF"
        return None

    def oversized_http_header(self):
        padding = "".join(f"X-Pad-{index}: {'a' * 90}\r\n" for index in range(2200))
        request = (f"GET http://{LOOPBACK}:{self.origin_port}/size/1 HTTP/1.1\r\n"
                   f"Host: {LOOPBACK}:{self.origin_port}\r\n{padding}\r\n").encode()
        assert len(request) > 200 * 1024
        with harness.connect(self.http_port) as sock:
            sock.settimeout(CLOSE_LIMIT)
            try:
                sock.sendall(request)
            except OSError:
                return None  # the server stopped reading and closed: fine
            data, closed = harness.recv_until_closed(sock, limit_seconds=CLOSE_LIMIT)
            if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"):
                return "oversized header: request was served with 200"
            if not closed:
                return f"oversized header: connection still open after {CLOSE_LIMIT}s"
        return None

    def slowloris(self, port, payload):
        """Sends payload one byte per second; the handshake timeout must cut it off."""
        started = time.monotonic()
        with harness.connect(port) as sock:
            for index in range(min(len(payload), HANDSHAKE_SECONDS + 8)):
                try:
                    sock.sendall(payload[index:index + 1])
                except OSError:
                    break
                sock.settimeout(1.0)
                try:
                    reply = sock.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not reply:
                    break
            else:
                return f"slowloris on port {port}: still open after {time.monotonic() - started:.1f}s"
        elapsed = time.monotonic() - started
        if elapsed < HANDSHAKE_SECONDS - 0.5:
            return f"slowloris on port {port}: closed after {elapsed:.1f}s, before the timeout"
        return None

    def slowloris_socks(self):
        host = b"slow.example.test"
        payload = b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(host)]) + host + b"\x00\x50"
        return self.slowloris(self.socks_port, payload)

    def slowloris_http(self):
        payload = f"GET http://{LOOPBACK}:{self.origin_port}/ HTTP/1.1\r\n".encode()
        return self.slowloris(self.http_port, payload)


class BadInputTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.socks_port = harness.free_port()
        self.http_port = harness.free_port()
        self.server = self.start_server(harness.base_config(
            [harness.socks_inbound(self.socks_port), harness.http_inbound(self.http_port)],
            handshake=HANDSHAKE_SECONDS))
        seed = int(os.environ.get("XSUP_TEST_SEED", str(int(time.time()))))
        print(f"[seed {seed}]", end=" ", flush=True)
        self.bad = BadClients(self.socks_port, self.http_port, self.origin.port, seed)
        # One good request first so lazily opened descriptors are part of the baseline.
        self.good_request()
        time.sleep(0.3)
        self.baseline_fds = self.server.fd_count()

    def good_request(self, index=0):
        if index % 2:
            return curl("-x", f"http://{LOOPBACK}:{self.http_port}",
                        self.origin.url("/size/5000"), timeout=8)
        return curl("--socks5", f"{LOOPBACK}:{self.socks_port}",
                    self.origin.url("/size/5000"), timeout=8)

    def assert_clean_afterwards(self, bad_connections):
        self.assertTrue(self.server.alive(), "the server died")
        result = self.good_request()
        self.assert_curl_ok(result, b"x" * 5000)
        fds = harness.wait_until(
            lambda: self.server.fd_count() <= self.baseline_fds + FD_SLACK and
            self.server.fd_count(), timeout=5)
        self.assertTrue(fds, f"fd count {self.server.fd_count()} did not return to baseline "
                             f"{self.baseline_fds} (±{FD_SLACK}) within 5 s")
        if not harness.under_v2ray():
            harness.wait_until(lambda: len(self.rejected_ids()) >= bad_connections, timeout=2)
            lines = [line for line in self.server.log_lines() if REJECTED.search(line)]
            self.assertEqual(len(self.rejected_ids()), bad_connections,
                             f"expected 'rejected' lines for {bad_connections} distinct "
                             f"connection ids, got:\n" + "\n".join(lines))

    def rejected_ids(self):
        """Connection ids of the `rejected` lines in the server's log."""
        return {match.group(2) for match in map(REJECTED.search, self.server.log_lines())
                if match}

    def check(self, failure):
        self.assertIsNone(failure, failure)

    def test_garbage_on_socks_port(self):
        self.check(self.bad.garbage(self.socks_port))
        self.assert_clean_afterwards(1)

    def test_garbage_on_http_port(self):
        self.check(self.bad.garbage(self.http_port))
        self.assert_clean_afterwards(1)

    def test_truncated_socks5_request(self):
        self.check(self.bad.truncated_socks5())
        self.assert_clean_afterwards(1)

    def test_oversized_http_header(self):
        self.check(self.bad.oversized_http_header())
        self.assert_clean_afterwards(1)

    def test_slowloris_socks(self):
        self.check(self.bad.slowloris_socks())
        self.assert_clean_afterwards(1)

    def test_slowloris_http(self):
        self.check(self.bad.slowloris_http())
        self.assert_clean_afterwards(1)

    def test_good_clients_served_while_bad_ones_misbehave(self):
        stop = threading.Event()
        good_results = []

        def good_loop():
            for index in range(200):  # bounded; normally stopped by the event much earlier
                if stop.is_set():
                    return
                good_results.append(self.good_request(index))
                time.sleep(0.05)

        attacks = [
            lambda: self.bad.garbage(self.socks_port),
            lambda: self.bad.garbage(self.http_port),
            self.bad.truncated_socks5,
            self.bad.oversized_http_header,
            self.bad.slowloris_socks,
            self.bad.slowloris_http,
        ]
        failures = []

        def run_attack(attack):
            try:
                failures.append(attack())
            except Exception as error:  # a crash of the attacker is a failure to report
                failures.append(f"attack raised {error!r}")

        good_threads = [threading.Thread(target=good_loop, daemon=True) for _ in range(2)]
        bad_threads = [threading.Thread(target=run_attack, args=(attack,), daemon=True)
                       for attack in attacks]
        for thread in good_threads + bad_threads:
            thread.start()
        for thread in bad_threads:
            thread.join(timeout=30)
        stop.set()
        for thread in good_threads:
            thread.join(timeout=15)
        self.assertFalse(any(t.is_alive() for t in good_threads + bad_threads),
                         "a client thread did not finish in time")
        self.assertEqual([f for f in failures if f], [])
        self.assertGreaterEqual(len(good_results), 10, "too few good requests ran")
        bad_good = [r.stderr for r in good_results if r.returncode != 0 or
                    r.stdout != b"x" * 5000]
        self.assertEqual(bad_good, [], "good requests failed while under attack")
        self.assert_clean_afterwards(len(attacks))


if __name__ == "__main__":
    harness.main()
