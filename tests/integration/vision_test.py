#!/usr/bin/env python3
"""XTLS Vision (spec/vision.md): flow "xtls-rprx-vision" on a VLESS+TLS 1.3 hop between an
xsup client (socks in -> vless+tls+vision out) and an xsup server (vless+tls+vision in ->
freedom).
  - HTTPS (inner TLS 1.3) to a local TLS origin: a body of several MB arrives intact, and
    both sides log the switch to direct copy in both directions and a spliced relay;
  - plain HTTP (not TLS) under Vision works and never goes direct;
  - a Vision client against a server user without the flow, and a client without the flow
    against a Vision user, are refused by the server as Xray refuses them.
Debian's v2ray 4.34 predates Vision (PEERS.md): there is no interop test to run."""

import hashlib
import json
import os
import re

import harness
import tls_test
from harness import LOOPBACK, curl

VISION = "xtls-rprx-vision"
BIG = 8 << 20


def vless_server(port, stream, flow):
    client = {"id": tls_test.USER_ID}
    if flow:
        client["flow"] = flow
    return {"tag": "in", "listen": LOOPBACK, "port": port, "protocol": "vless",
            "settings": {"clients": [client], "decryption": "none"}, "streamSettings": stream}


def vless_client(port, stream, flow):
    user = {"id": tls_test.USER_ID, "encryption": "none"}
    if flow:
        user["flow"] = flow
    return {"tag": "proxy", "protocol": "vless", "streamSettings": stream,
            "settings": {"vnext": [{"address": LOOPBACK, "port": port, "users": [user]}]}}


@harness.xsup_only("v2ray 4.34 has no Vision")
class VisionTest(tls_test.TlsTestCase):
    def setUp(self):
        super().setUp()
        self.tls_origin = harness.tls_origin(self.res)

    def chain(self, server_flow=VISION, client_flow=VISION):
        port = harness.free_port()
        self.server = self.start_server(
            harness.base_config([vless_server(port, self.server_stream(), server_flow)]),
            name=self.name("vision-server"))
        return self.start_client(vless_client(port, self.client_stream(), client_flow))

    def start_server(self, config, name="server", impl=None, extra_args=()):
        proc = super().start_server(config, name, impl, extra_args)
        self.client_proc = proc  # the last one started: the client, once chain() is done
        return proc

    def https(self, socks, size, timeout=60):
        return curl("-k", "--socks5-hostname", f"{LOOPBACK}:{socks}",
                    f"https://localhost:{self.tls_origin.port}/size/{size}", timeout=timeout)

    def count(self, log, text):
        return len(re.findall(re.escape(text), log))

    def post(self, socks, body, timeout=60):
        path = self.res.path("body.bin")
        with open(path, "wb") as f:
            f.write(body)
        return curl("-k", "--socks5-hostname", f"{LOOPBACK}:{socks}", "-H", "Expect:",
                    "--data-binary", f"@{path}",
                    f"https://localhost:{self.tls_origin.port}/post", timeout=timeout)

    def test_https_switches_to_direct_copy_and_splice(self):
        socks = self.chain()
        # An upload: both directions carry whole inner records after the handshake, so
        # both go direct (a lone GET never writes another uplink record).
        body = os.urandom(4 << 20)
        result = self.post(socks, body)
        self.assert_curl_ok(result)
        answer = json.loads(result.stdout)
        self.assertEqual(answer, {"received": len(body),
                                  "sha256": hashlib.sha256(body).hexdigest()})
        for proc in (self.server, self.client_proc):
            harness.wait_until(lambda p=proc: "via splice" in p.log(), 5)
            log = proc.log()
            self.assertEqual(self.count(log, "vision: direct copy (read)"), 1, log)
            self.assertEqual(self.count(log, "vision: direct copy (write)"), 1, log)
            self.assertIn("via splice", log)
        # A download: the server's writer and the client's reader go direct.
        self.assert_curl_ok(self.https(socks, BIG), b"x" * BIG)
        harness.wait_until(
            lambda: self.count(self.server.log(), "vision: direct copy (write)") == 2, 5)
        self.assertEqual(self.count(self.server.log(), "vision: direct copy (write)"), 2)
        self.assertEqual(self.count(self.client_proc.log(), "vision: direct copy (read)"), 2)

    def test_plain_http_stays_inside_outer_tls(self):
        socks = self.chain()
        for size in (100, 3 << 20):
            self.assert_curl_ok(self.fetch(socks, size), b"x" * size)
        harness.wait_until(lambda: self.count(self.server.log(), "closed ") >= 2, 5)
        for proc in (self.server, self.client_proc):
            self.assertNotIn("vision: direct copy", proc.log())
            self.assertNotIn("via splice", proc.log())

    def test_vision_client_against_a_user_without_the_flow_is_refused(self):
        socks = self.chain(server_flow=None)
        self.assertNotEqual(self.https(socks, 1000, timeout=10).returncode, 0)
        harness.wait_until(lambda: "not able to use the flow" in self.server.log(), 5)
        self.assertIn("is not able to use the flow xtls-rprx-vision", self.server.log())

    def test_client_without_the_flow_against_a_vision_user_is_refused(self):
        socks = self.chain(client_flow=None)
        self.assertNotEqual(self.https(socks, 1000, timeout=10).returncode, 0)
        harness.wait_until(lambda: "must use the flow" in self.server.log(), 5)
        self.assertIn("must use the flow xtls-rprx-vision", self.server.log())

    def test_vision_over_tls12_is_refused(self):
        port = harness.free_port()
        self.server = self.start_server(
            harness.base_config([vless_server(port, self.server_stream(maxVersion="1.2"),
                                              VISION)]),
            name=self.name("vision-server"))
        socks = self.start_client(vless_client(port, self.client_stream(), VISION))
        self.assertNotEqual(self.https(socks, 1000, timeout=10).returncode, 0)
        harness.wait_until(lambda: "XTLS only supports TLS 1.3" in self.client_proc.log(), 5)
        self.assertIn("XTLS only supports TLS 1.3", self.client_proc.log())


if __name__ == "__main__":
    harness.main()
