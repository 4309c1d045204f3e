#!/usr/bin/env python3
"""Store users on every proxy protocol that takes them (DESIGN.md §4): VLESS, VMess, Trojan,
Shadowsocks AEAD and Shadowsocks 2022 multi-user. A user added with `xsup user add` is
served at once, their payload bytes are counted exactly, and a disabled user loses their
open connection. The clients are a second xsup (every protocol) and shadowsocks-libev's
ss-local (Shadowsocks AEAD, from the user's share link)."""

import base64
import json
import os
import socket
import struct
import time
import urllib.parse

import harness
import shadowsocks_test
import trojan_test
import users_test
import vless_test
import vmess_test
from harness import LOOPBACK

FLUSH = 1
IPSK = base64.b64encode(bytes(range(16))).decode()
CONFIG_UPSK = base64.b64encode(bytes(range(16, 32))).decode()

# tag of the server's inbound, the store user's email, bytes up and down.
CASES = [
    ("vless-in", "vera@example.com", 1_234_567, 2_345_678),
    ("vmess-in", "vic@example.com", 2_000_003, 1_000_001),
    ("trojan-in", "tom@example.com", 777_777, 3_333_333),
    ("ss-in", "sam@example.com", 1_500_000, 500_009),
    ("ss22-in", "sue@example.com", 654_321, 2_222_222),
]


def socks_connect(port, target_port):
    """A SOCKS5 CONNECT without authentication; the socket, or raises."""
    return users_test.socks_connect(port, None, None, target_port)


def drained_until_closed(sock, limit_seconds):
    """Reads and drops what `sock` still holds (megabytes of a fast download may be queued
    in the chain) until the peer closes it; False on the time limit."""
    deadline = time.monotonic() + limit_seconds
    buffer = bytearray(1 << 20)
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv_into(buffer) == 0:
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def outbound(tag, user, server_port):
    """The client-side outbound that speaks inbound `tag`'s protocol as store user `user`."""
    if tag == "vless-in":
        out = vless_test.vless_outbound(server_port, user["id"])
    elif tag == "vmess-in":
        out = vmess_test.vmess_outbound(server_port, "aes-128-gcm", user_id=user["id"])
    elif tag == "trojan-in":
        out = trojan_test.trojan_outbound(server_port, user["password"])
    elif tag == "ss-in":
        out = shadowsocks_test.ss_outbound(server_port, "aes-128-gcm", user["password"])
    else:
        out = shadowsocks_test.ss_outbound(server_port, "2022-blake3-aes-128-gcm",
                                           f"{IPSK}:{user['password']}")
    out["tag"] = f"to-{tag}"
    return out


@harness.xsup_only("the store is xsup's")
class ProtocolStoreUsersTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.sink = users_test.Sink()
        self.res.add(self.sink.close)
        self.ports = {tag: harness.free_port() for tag, *_ in CASES}
        inbounds = [
            vless_test.vless_inbound(self.ports["vless-in"]),
            vmess_test.vmess_inbound(self.ports["vmess-in"]),
            trojan_test.trojan_inbound(self.ports["trojan-in"]),
            shadowsocks_test.ss_inbound(self.ports["ss-in"], "aes-128-gcm", network="tcp"),
            {"tag": "ss22-in", "listen": LOOPBACK, "port": self.ports["ss22-in"],
             "protocol": "shadowsocks",
             "settings": {"method": "2022-blake3-aes-128-gcm", "password": IPSK,
                          "clients": [{"password": CONFIG_UPSK, "email": "cfg22"}]}},
        ]
        config = harness.base_config(inbounds)
        config["log"]["loglevel"] = "info"
        config["xsup"] = {"statsFlushInterval": FLUSH, "workers": 2}
        self.server = self.start_server(config, name="server")

    def cli(self, *args):
        return self.control(self.server, *args)

    def add(self, email, tag):
        self.cli("user", "add", "--email", email, "--inbound", tag)
        return json.loads(self.cli("user", "show", "--email", email, "--json").stdout)

    def start_client(self, users):
        """A second xsup with one SOCKS inbound per case, each routed to its protocol."""
        socks = {tag: harness.free_port() for tag, *_ in CASES}
        inbounds = [harness.socks_inbound(socks[tag], tag=f"c-{tag}") for tag, *_ in CASES]
        outbounds = [outbound(tag, users[tag], self.ports[tag]) for tag, *_ in CASES]
        rules = [{"type": "field", "inboundTag": [f"c-{tag}"], "outboundTag": f"to-{tag}"}
                 for tag, *_ in CASES]
        self.start_server(harness.base_config(inbounds, outbounds, rules), name="client")
        return socks

    def transfer(self, socks_port, up, down):
        users_test.exchange(self, socks_connect(socks_port, self.sink.port), up, down)

    def served(self, socks_port):
        """Whether a 10-byte download through `socks_port` arrives within 3 s."""
        try:
            with socks_connect(socks_port, self.sink.port) as s:
                s.sendall(struct.pack("!Q", 10))
                return harness.recv_exact(s, 10, limit_seconds=3) == b"d" * 10
        except (ConnectionError, TimeoutError, OSError):
            return False

    def counters(self):
        return json.loads(self.cli("stats", "--json").stdout)

    def test_every_protocol_counts_its_store_user_exactly(self):
        users = {tag: self.add(email, tag) for tag, email, *_ in CASES}
        # The 2022 user's generated password is a base64 key of the method's size.
        self.assertEqual(len(base64.b64decode(users["ss22-in"]["password"])), 16)
        socks = self.start_client(users)
        for tag, email, up, down in CASES:
            with self.subTest(protocol=tag):
                self.transfer(socks[tag], up, down)
                want = {f"user>>>{email}>>>traffic>>>uplink": up,
                        f"user>>>{email}>>>traffic>>>downlink": down}
                # Workers report every second.
                counted = harness.wait_until(
                    lambda: all(self.counters().get(k) == v for k, v in want.items()),
                    timeout=FLUSH + 3)
                got = {k: self.counters().get(k) for k in want}
                self.assertTrue(counted, f"{tag}: counters {got}, want {want}")

    def test_disabled_users_lose_their_connections(self):
        users = {tag: self.add(email, tag) for tag, email, *_ in CASES}
        socks = self.start_client(users)
        held = {}
        for tag, *_ in CASES:
            s = socks_connect(socks[tag], self.sink.port)
            # A slow download that would last minutes: the sink sends 1 GB.
            s.sendall(struct.pack("!Q", 1 << 30))
            harness.recv_exact(s, 1000, limit_seconds=10)
            held[tag] = s
        for tag, email, *_ in CASES:
            with self.subTest(protocol=tag):
                self.cli("user", "disable", "--email", email)
                with held[tag] as s:
                    closed = drained_until_closed(s, limit_seconds=10)
                self.assertTrue(closed, f"{tag}: the disabled user's connection stayed open")
                self.assertFalse(self.served(socks[tag]), f"{tag}: a disabled user was served")

    def test_config_user_of_a_2022_inbound_still_served(self):
        self.add("sue@example.com", "ss22-in")
        users = {tag: {"id": vless_test.USER_ID, "password": trojan_test.PASSWORD}
                 for tag, *_ in CASES}
        users["ss-in"]["password"] = shadowsocks_test.PASSWORD
        users["ss22-in"]["password"] = CONFIG_UPSK
        socks = self.start_client(users)
        self.transfer(socks["ss22-in"], 100_000, 200_000)

    def test_ss_local_connects_with_the_share_link(self):
        if not os.access(shadowsocks_test.SS_BIN["ss-local"], os.X_OK):
            self.skipTest("shadowsocks-libev is not installed")
        self.add("sam@example.com", "ss-in")
        link = self.cli("user", "link", "--email", "sam@example.com").stdout.strip()
        parsed = urllib.parse.urlsplit(link)
        self.assertEqual(parsed.scheme, "ss")
        userinfo = parsed.username + "=" * (-len(parsed.username) % 4)
        method, password = base64.urlsafe_b64decode(userinfo).decode().split(":", 1)
        self.assertEqual(method, "aes-128-gcm")
        local_port = harness.free_port()
        shadowsocks_test.LibevProcess(
            self.res, "ss-local",
            ["-s", LOOPBACK, "-p", str(parsed.port), "-k", password, "-m", method,
             "-b", LOOPBACK, "-l", str(local_port)],
            [("tcp", local_port)], "ss-local")
        # ss-local drops a connection whose client half-closes: the live session is counted
        # (workers report every second) before it ends.
        with socks_connect(local_port, self.sink.port) as s:
            s.sendall(struct.pack("!Q", 400_000) + b"u" * (300_000 - 8))
            self.assertEqual(len(harness.recv_exact(s, 400_000, limit_seconds=20)), 400_000)
            want = {"user>>>sam@example.com>>>traffic>>>uplink": 300_000,
                    "user>>>sam@example.com>>>traffic>>>downlink": 400_000}
            self.assertTrue(harness.wait_until(
                lambda: all(self.counters().get(k) == v for k, v in want.items()),
                timeout=FLUSH + 3), str(self.counters()))

    def test_2022_refusals_name_the_field(self):
        bad = self.control(self.server, "user", "add", "--email", "x@example.com", "--inbound",
                           "ss22-in", "--password", "not-a-key", ok=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("--password", bad.stderr)
        self.assertIn("16-byte key", bad.stderr)


if __name__ == "__main__":
    harness.main()
