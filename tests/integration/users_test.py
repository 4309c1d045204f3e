#!/usr/bin/env python3
"""The store's users and traffic: exact per-user counts, users added, disabled and removed
under traffic without a restart, quotas and expiry enforced within a second, history, and
the CLI's refusals."""

import contextlib
import json
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import harness
from harness import LOOPBACK

FLUSH = 1  # xsup.statsFlushInterval in these tests


def xsup(*args, timeout=60):
    return subprocess.run([harness.XSUP_BIN, *args], capture_output=True, text=True,
                          timeout=timeout)


class Sink:
    """A TCP server that, per connection, reads the client's first 8 bytes: how many bytes
    to send back (M), then reads everything the client sends until EOF while sending M
    bytes, and closes. `rate` (bytes/s) paces the sending; 0 = as fast as possible."""

    def __init__(self, rate=0):
        self.rate = rate
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        self.received = []  # bytes read per finished connection
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        total = 0
        with conn:
            conn.settimeout(60)
            try:
                head = harness.recv_exact(conn, 8, limit_seconds=10)
                want = struct.unpack("!Q", head)[0]
                reader = threading.Thread(target=self._drain, args=(conn,), daemon=True)
                reader.start()
                block = b"d" * 16384
                began = time.monotonic()
                while total < want and not self.stop.is_set():
                    n = min(len(block), want - total)
                    conn.sendall(block[:n])
                    total += n
                    if self.rate:
                        ahead = total / self.rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
                conn.shutdown(socket.SHUT_WR)
                reader.join(timeout=30)
            except OSError:
                pass

    def _drain(self, conn):
        got = 0
        with contextlib.suppress(OSError):
            for _ in range(10_000_000):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
        self.received.append(got)


def socks_connect(port, user, password, target_port, timeout=5, source=None):
    """A SOCKS5 CONNECT with RFC 1929 credentials (none when `user` is None); returns the
    socket or raises."""
    s = harness.connect(port, timeout=timeout, source=source)
    method = b"\x00" if user is None else b"\x02"
    s.sendall(b"\x05\x01" + method)
    if harness.recv_exact(s, 2) != b"\x05" + method:
        s.close()
        raise ConnectionError(f"method {method!r} refused")
    if user is not None:
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        status = harness.recv_exact(s, 2)
        if status != b"\x01\x00":
            s.close()
            raise PermissionError(f"authentication refused: {status!r}")
    s.sendall(b"\x05\x01\x00" + harness.socks5_address(LOOPBACK, target_port))
    rep, _, _ = harness.read_socks5_reply(s)
    if rep != 0:
        s.close()
        raise ConnectionError(f"CONNECT refused: {rep}")
    return s


def exchange(test, sock, up, down, limit_seconds=30):
    """Through `sock`, connected to a Sink: sends `up` payload bytes (the 8-byte request
    included), half-closes, and checks that exactly `down` bytes come back before the end."""
    with sock:
        sock.sendall(struct.pack("!Q", down))
        sock.sendall(b"u" * (up - 8))
        sock.shutdown(socket.SHUT_WR)
        data, closed = harness.recv_until_closed(sock, limit_seconds=limit_seconds,
                                                 max_bytes=down + 1)
    test.assertTrue(closed)
    test.assertEqual(len(data), down)


class UsersTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.sink = Sink()
        self.res.add(self.sink.close)
        self.port = harness.free_port()
        self.http_port = harness.free_port()
        config = harness.base_config([
            {"tag": "socks-in", "protocol": "socks", "listen": LOOPBACK, "port": self.port,
             "settings": {"auth": "password", "accounts": [{"user": "cfg", "pass": "cfgpw"}]}},
            {"tag": "http-in", "protocol": "http", "listen": LOOPBACK, "port": self.http_port,
             "settings": {}},
            {"tag": "door-in", "protocol": "dokodemo-door", "listen": LOOPBACK,
             "port": harness.free_port(),
             "settings": {"address": LOOPBACK, "port": 9, "network": "tcp"}},
        ])
        config["log"]["loglevel"] = "info"
        config["xsup"] = {"statsFlushInterval": FLUSH, "workers": 2}
        self.server = self.start_server(config)
        self.db = self.server.config["xsup"]["store"]

    # -- helpers ---------------------------------------------------------------------

    def cli(self, *args, ok=True):
        return self.control(self.server, *args, ok=ok)

    def add(self, email, *extra, inbound="socks-in"):
        self.cli("user", "add", "--email", email, "--inbound", inbound, *extra)
        shown = json.loads(self.cli("user", "show", "--email", email, "--json").stdout)
        return shown["password"]

    def counters(self):
        return json.loads(self.cli("stats", "--json").stdout)

    def stored_totals(self, kind, name):
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT uplink, downlink FROM traffic_totals WHERE kind=? AND "
                             "name=?", (kind, name)).fetchone()
        return tuple(row) if row else (0, 0)

    def transfer(self, user, password, up, down):
        exchange(self, socks_connect(self.port, user, password, self.sink.port), up, down)

    def user(self, email):
        return json.loads(self.cli("user", "show", "--email", email, "--json").stdout)

    # -- tests -----------------------------------------------------------------------

    def test_exact_counts_reach_the_store_within_one_flush(self):
        pw = self.add("alice@example.com")
        up, down = 1_234_567, 3_456_789
        self.transfer("alice@example.com", pw, up, down)
        self.transfer("alice@example.com", pw, 1000, 0)
        want_up, want_down = up + 1000, down
        # The workers report each second; the store has it one flush interval later.
        got = harness.wait_until(
            lambda: self.stored_totals("user", "alice@example.com") == (want_up, want_down),
            timeout=FLUSH + 2.5)
        self.assertTrue(got, f"store has {self.stored_totals('user', 'alice@example.com')}")
        counters = self.counters()
        self.assertEqual(counters["user>>>alice@example.com>>>traffic>>>uplink"], want_up)
        self.assertEqual(counters["user>>>alice@example.com>>>traffic>>>downlink"], want_down)
        self.assertEqual(counters["inbound>>>socks-in>>>traffic>>>uplink"], want_up)
        self.assertEqual(counters["outbound>>>direct>>>traffic>>>downlink"], want_down)
        shown = self.user("alice@example.com")
        self.assertEqual((shown["uplink"], shown["downlink"], shown["connections"]),
                         (want_up, want_down, 2))
        # The config's own account is counted under its name too.
        self.transfer("cfg", "cfgpw", 5000, 7000)
        self.assertTrue(harness.wait_until(
            lambda: self.stored_totals("user", "cfg") == (5000, 7000), timeout=FLUSH + 2.5))
        # History: one minute row (or two, across a minute boundary) with the same sum.
        rows = json.loads(self.cli("stats", "--user", "alice@example.com", "--since",
                                   "2020-01-01", "--json").stdout)
        self.assertEqual(sum(r["uplink"] for r in rows), want_up)
        self.assertTrue(all(r["seconds"] == 60 for r in rows))

    def test_users_change_live_under_traffic(self):
        bob = self.add("bob")
        # bob holds a connection open (an endless slow download).
        held = socks_connect(self.port, "bob", bob, self.sink.port)
        self.res.add(held.close)
        held.sendall(struct.pack("!Q", 1 << 40))
        self.sink.rate = 0
        self.assertTrue(harness.recv_exact(held, 1000))
        # carol is added while bob's traffic flows, and connects at once.
        began = time.monotonic()
        carol = self.add("carol")
        other = harness.wait_until(lambda: self._try_connect("carol", carol), timeout=1.0)
        self.assertTrue(other, "an added user could not connect within 1 s")
        self.res.add(other.close)
        other.sendall(struct.pack("!Q", 1 << 40))
        self.assertTrue(harness.recv_exact(other, 1000))
        self.assertLess(time.monotonic() - began, 3)
        # bob is removed: his open connection closes within 1 s, carol's goes on.
        self.cli("user", "del", "--email", "bob")
        removed_at = time.monotonic()
        _, closed = harness.recv_until_closed(held, limit_seconds=1.0, max_bytes=1 << 40)
        self.assertTrue(closed, "a removed user's connection was still open after 1 s")
        self.assertLess(time.monotonic() - removed_at, 1.0)
        self.assertTrue(harness.recv_exact(other, 100_000))
        with self.assertRaises(PermissionError):
            socks_connect(self.port, "bob", bob, self.sink.port)
        self.assertIn("user lost access", self.server.log())
        # Disable and enable: refused while disabled, with the reason shown.
        self.cli("user", "disable", "--email", "carol")
        _, closed = harness.recv_until_closed(other, limit_seconds=1.0, max_bytes=1 << 40)
        self.assertTrue(closed)
        self.assertEqual(self.user("carol")["disabled_reason"], "disabled by the operator")
        with self.assertRaises(PermissionError):
            socks_connect(self.port, "carol", carol, self.sink.port)
        self.cli("user", "enable", "--email", "carol")
        socks_connect(self.port, "carol", carol, self.sink.port).close()

    def _try_connect(self, user, password):
        try:
            return socks_connect(self.port, user, password, self.sink.port, timeout=1)
        except (PermissionError, OSError):
            return None

    def test_quota_cuts_off_within_a_second(self):
        rate = 4_000_000  # bytes/s, so that one second of traffic is measurable
        quota = 10_000_000
        pw = self.add("dave", "--quota", "10MB")
        self.sink.rate = rate
        s = socks_connect(self.port, "dave", pw, self.sink.port)
        with s:
            s.sendall(struct.pack("!Q", 1 << 40))
            got = 0
            crossed_at = None
            s.settimeout(10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                got += len(chunk)
                if crossed_at is None and got + 8 >= quota:
                    crossed_at = time.monotonic()
            ended_at = time.monotonic()
        self.assertIsNotNone(crossed_at, f"cut off before the quota: {got} bytes")
        late = ended_at - crossed_at
        self.assertLessEqual(late, 1.5, f"cut off {late:.2f} s after the quota")
        self.assertLessEqual(got, quota + 1.5 * rate)
        shown = self.user("dave")
        self.assertFalse(shown["enabled"])
        self.assertIn("quota", shown["disabled_reason"])
        with self.assertRaises(PermissionError):
            socks_connect(self.port, "dave", pw, self.sink.port)
        # A reset of the traffic lifts the quota stop.
        self.cli("user", "reset-traffic", "--email", "dave")
        self.assertTrue(self.user("dave")["enabled"])
        socks_connect(self.port, "dave", pw, self.sink.port).close()
        print(f"quota: {got} bytes received, cut {late:.2f} s after crossing 10 MB")

    def test_expiry_closes_connections(self):
        expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        pw = self.add("erin", "--expire", expire)
        s = socks_connect(self.port, "erin", pw, self.sink.port)
        with s:
            s.sendall(struct.pack("!Q", 1 << 40))
            self.sink.rate = 1_000_000
            _, closed = harness.recv_until_closed(s, limit_seconds=6, max_bytes=1 << 40)
        self.assertTrue(closed)
        shown = self.user("erin")
        self.assertIn("expired", shown["disabled_reason"])
        self.cli("user", "set", "--email", "erin", "--expire", "never")
        self.assertTrue(self.user("erin")["enabled"])

    def test_http_inbound_and_persistence_across_restart(self):
        pw = self.add("frank", inbound="http-in")
        origin = harness.http_origin(self.res)
        proxy = f"http://frank:{pw}@{LOOPBACK}:{self.http_port}"
        # The share link names the same proxy (xsup.publicAddress defaults to 127.0.0.1).
        link = self.cli("user", "link", "--email", "frank").stdout.strip()
        self.assertEqual(link, f"{proxy}#frank")
        self.assert_curl_ok(harness.curl("-x", proxy, origin.url("/size/100000")))
        # An HTTP inbound with store users requires authentication.
        self.assert_curl_fails(harness.curl("-f", "-x", f"http://{LOOPBACK}:{self.http_port}",
                                            origin.url("/bytes/10")))
        harness.wait_until(lambda: self.stored_totals("user", "frank")[1] > 100000, FLUSH + 2.5)
        before = self.stored_totals("user", "frank")
        self.assertGreater(before[1], 100000)
        # A reload keeps the users; a restart reads them back from the store.
        self.cli("reload")
        self.assert_curl_ok(harness.curl("-x", proxy, origin.url("/bytes/10")))
        self.server.stop()
        self.server.start()
        self.assert_curl_ok(harness.curl("-x", proxy, origin.url("/bytes/10")))
        self.assertGreaterEqual(self.user("frank")["downlink"], before[1])

    def served_from(self, source, email, password):
        """Whether a 10-byte download as `email` from client address `source` completes."""
        try:
            with socks_connect(self.port, email, password, self.sink.port, timeout=3,
                               source=source) as s:
                s.sendall(struct.pack("!Q", 10))
                return harness.recv_exact(s, 10, limit_seconds=3) == b"d" * 10
        except (ConnectionError, TimeoutError, OSError):
            return False

    def test_ip_limit_holds_across_workers(self):
        pw = self.add("ivy", "--ip-limit", "1")
        self.assertEqual(self.user("ivy")["ip_limit"], 1)
        self.assertIn("ip limit     1 client IPs", self.cli("user", "show", "--email", "ivy").stdout)
        first = socks_connect(self.port, "ivy", pw, self.sink.port, source="127.0.0.1")
        with first:
            first.sendall(struct.pack("!Q", 1 << 30))  # a download that lasts
            harness.recv_exact(first, 1000, limit_seconds=10)
            # Whichever worker takes them, other addresses are refused once the supervisor
            # has the first one's report (each second).
            time.sleep(1.5)
            for source in ("127.0.0.2", "127.0.0.3", "127.0.0.2"):
                self.assertFalse(self.served_from(source, "ivy", pw), source)
            # The first address may open more connections; its download goes on.
            self.assertTrue(self.served_from("127.0.0.1", "ivy", pw))
            harness.recv_exact(first, 100_000, limit_seconds=10)
            # Another user is not limited by ivy's IPs.
            other = self.add("jay")
            self.assertTrue(self.served_from("127.0.0.2", "jay", other))
        # The first address gone, the next one gets in within the report interval.
        self.assertTrue(harness.wait_until(lambda: self.served_from("127.0.0.2", "ivy", pw),
                                           timeout=6))
        # Lifting the limit lets any number of addresses in.
        self.cli("user", "set", "--email", "ivy", "--ip-limit", "0")
        held = socks_connect(self.port, "ivy", pw, self.sink.port, source="127.0.0.4")
        with held:
            held.sendall(struct.pack("!Q", 1 << 30))
            harness.recv_exact(held, 1000, limit_seconds=10)
            time.sleep(1.5)
            self.assertTrue(self.served_from("127.0.0.5", "ivy", pw))

    def test_refusals_name_the_field(self):
        cases = [
            (["--email", "x", "--inbound", "nope"], "no inbound is tagged \"nope\""),
            (["--email", "x", "--inbound", "door-in"], "takes no users"),
            (["--email", "cfg", "--inbound", "socks-in"], "already an account"),
            (["--email", "x", "--inbound", "socks-in", "--quota", "ten"], "--quota"),
            (["--email", "x", "--inbound", "socks-in", "--expire", "soon"], "--expire"),
            (["--email", "x", "--inbound", "socks-in", "--ip-limit", "two"], "--ip-limit"),
            (["--email", "x", "--inbound", "socks-in", "--flow", "xtls-rprx-vision"],
             "only VLESS"),
            (["--inbound", "socks-in"], "--email"),
        ]
        for args, message in cases:
            result = self.cli("user", "add", *args, ok=False)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn(message, result.stderr, args)
        self.add("gina")
        result = self.cli("user", "add", "--email", "gina", "--inbound", "socks-in", ok=False)
        self.assertIn("already exists", result.stderr)
        result = self.cli("user", "show", "--email", "nobody", ok=False)
        self.assertIn("no user nobody", result.stderr)
        # A reload that moves the store is refused; the running one goes on.
        moved = dict(self.server.config)
        moved["xsup"] = dict(moved["xsup"], store=self.res.path("other.db"))
        path = self.res.write_json("moved.json", moved)
        result = xsup("reload", "-c", path, "--control", self.server.control_path)
        self.assertEqual(result.returncode, 1)
        self.assertIn("xsup.store", result.stderr)


if __name__ == "__main__":
    harness.main()
