#!/usr/bin/env python3
"""v2ray as the client: curl -> v2ray socks inbound -> v2ray socks/http outbound -> the server
under test's socks/http inbound -> origin. Under XSUP_TEST_IMPL=v2ray this is v2ray->v2ray."""

import harness
from harness import LOOPBACK, curl

USER, PASSWORD = "dave", "chain-pw"


def client_config(client_port, outbound):
    """v2ray client: a noauth socks inbound forwarding everything to one proxy outbound."""
    return harness.base_config([harness.socks_inbound(client_port, tag="client-in")],
                               [outbound])


def socks_outbound(port, auth):
    server = {"address": LOOPBACK, "port": port}
    if auth:
        server["users"] = [{"user": USER, "pass": PASSWORD}]
    return {"protocol": "socks", "tag": "upstream", "settings": {"servers": [server]}}


def http_outbound(port, auth):
    server = {"address": LOOPBACK, "port": port}
    if auth:
        server["users"] = [{"user": USER, "pass": PASSWORD}]
    return {"protocol": "http", "tag": "upstream", "settings": {"servers": [server]}}


class ChainTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)

    def chain(self, inbound_kind, auth, client_auth=None):
        """Starts server under test and v2ray client; returns the client's socks address."""
        client_auth = auth if client_auth is None else client_auth
        server_port, client_port = harness.free_port(), harness.free_port()
        accounts = [(USER, PASSWORD)] if auth else None
        if inbound_kind == "socks":
            inbound = harness.socks_inbound(server_port, accounts=accounts)
            outbound = socks_outbound(server_port, client_auth)
        else:
            inbound = harness.http_inbound(server_port, accounts=accounts)
            outbound = http_outbound(server_port, client_auth)
        self.server = self.start_server(harness.base_config([inbound]), name="server")
        self.client = self.start_server(client_config(client_port, outbound),
                                         name="v2ray-client", impl="v2ray")
        return f"{LOOPBACK}:{client_port}"

    def fetch_through(self, proxy, size):
        return curl("--socks5-hostname", proxy,
                    self.origin.url(f"/size/{size}", host="localhost"), timeout=20)

    def test_socks_noauth(self):
        proxy = self.chain("socks", auth=False)
        self.assert_curl_ok(self.fetch_through(proxy, 100000), b"x" * 100000)

    def test_socks_password(self):
        proxy = self.chain("socks", auth=True)
        self.assert_curl_ok(self.fetch_through(proxy, 100000), b"x" * 100000)

    def test_socks_password_missing_is_refused(self):
        proxy = self.chain("socks", auth=True, client_auth=False)
        self.assert_curl_fails(self.fetch_through(proxy, 100))
        self.assertEqual(self.origin.requests, [])

    def test_http_noauth(self):
        proxy = self.chain("http", auth=False)
        self.assert_curl_ok(self.fetch_through(proxy, 100000), b"x" * 100000)

    def test_http_password(self):
        proxy = self.chain("http", auth=True)
        self.assert_curl_ok(self.fetch_through(proxy, 100000), b"x" * 100000)

    def test_http_password_missing_is_refused(self):
        proxy = self.chain("http", auth=True, client_auth=False)
        self.assert_curl_fails(self.fetch_through(proxy, 100))
        self.assertEqual(self.origin.requests, [])

    def test_large_transfer_socks(self):
        size = 16 * 1024 * 1024
        proxy = self.chain("socks", auth=True)
        result = self.fetch_through(proxy, size)
        self.assert_curl_ok(result)
        self.assertEqual(len(result.stdout), size)


if __name__ == "__main__":
    harness.main()
