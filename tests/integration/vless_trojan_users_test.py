#!/usr/bin/env python3
"""Store users on VLESS and Trojan inbounds (DESIGN.md §4): a user added with `xsup user add`
is served at once with its uuid or password, and a disabled one loses its live connection
and is refused afterwards. xsup only (v2ray has no store)."""

import json
import uuid

import harness
import trojan_test
import vless_test
from harness import LOOPBACK


@harness.xsup_only("the store is xsup's")
class StoreUsersTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.echo = harness.echo_server(self.res, "tcp")
        self.vless_port = harness.free_port()
        self.trojan_port = harness.free_port()
        config = harness.base_config([vless_test.vless_inbound(self.vless_port),
                                      trojan_test.trojan_inbound(self.trojan_port)])
        self.server = self.start_server(config)

    def cli(self, *args):
        return self.control(self.server, *args)

    def add(self, email, inbound):
        self.cli("user", "add", "--email", email, "--inbound", inbound)
        return json.loads(self.cli("user", "show", "--email", email, "--json").stdout)

    def served(self, port, opening, expect):
        sock = harness.connect(port)
        sock.sendall(opening)
        try:
            return harness.recv_exact(sock, len(expect)) == expect, sock
        except (ConnectionError, TimeoutError, OSError):
            sock.close()
            return False, None

    def check_user(self, port, opening, expect, email):
        ok, held = self.served(port, opening, expect)
        self.assertTrue(ok, "a store user was not served")
        with held:
            self.cli("user", "disable", "--email", email)
            _, closed = harness.recv_until_closed(held, limit_seconds=5)
            self.assertTrue(closed, "the disabled user's connection stayed open")
        ok, sock = self.served(port, opening, expect)
        if sock is not None:
            sock.close()
        self.assertFalse(ok, "a disabled user was served")

    def test_vless_store_user(self):
        user = self.add("vera@example.com", "vless-in")
        opening = vless_test.request(1, self.echo.port, user=uuid.UUID(user["id"]).bytes)
        self.check_user(self.vless_port, opening + b"hello", b"\x00\x00hello", "vera@example.com")

    def test_trojan_store_user(self):
        user = self.add("tom@example.com", "trojan-in")
        key = trojan_test.hashlib.sha224(user["password"].encode()).hexdigest().encode()
        opening = trojan_test.request(1, self.echo.port, key=key)
        self.check_user(self.trojan_port, opening + b"hello", b"hello", "tom@example.com")


if __name__ == "__main__":
    harness.main()
