#!/usr/bin/env python3
"""Routing: domain and IP rules to a blackhole, rules by port and inbound tag, and sniffing
(HTTP Host, TLS SNI) overriding the destination before routing."""

import harness
from harness import LOOPBACK, curl

OUTBOUNDS = [{"protocol": "freedom", "tag": "direct"},
             {"protocol": "blackhole", "tag": "block"}]


class RoutingRulesTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        # A second origin on 127.0.0.2: reachable directly, blocked only by the IP rule.
        self.origin2 = harness.http_origin(self.res, host="127.0.0.2")
        self.blocked_port_origin = harness.http_origin(self.res)
        self.socks_port = harness.free_port()
        self.strict_port = harness.free_port()
        rules = [
            {"type": "field", "domain": ["full:blocked.test"], "outboundTag": "block"},
            {"type": "field", "ip": ["127.0.0.2/32"], "outboundTag": "block"},
            {"type": "field", "port": str(self.blocked_port_origin.port), "outboundTag": "block"},
            {"type": "field", "inboundTag": ["strict-in"], "outboundTag": "block"},
            {"type": "field", "network": "tcp,udp", "outboundTag": "direct"},
        ]
        self.server = self.start_server(harness.base_config(
            [harness.socks_inbound(self.socks_port),
             harness.socks_inbound(self.strict_port, tag="strict-in")],
            OUTBOUNDS, rules))
        self.proxy = f"{LOOPBACK}:{self.socks_port}"

    def test_unmatched_domain_goes_direct(self):
        result = curl("--socks5-hostname", self.proxy,
                      self.origin.url("/size/64", host="localhost"))
        self.assert_curl_ok(result, b"x" * 64)

    def test_unmatched_ip_goes_direct(self):
        self.assert_curl_ok(curl("--socks5", self.proxy, self.origin.url("/size/64")),
                            b"x" * 64)

    def test_domain_rule_blocks(self):
        # blocked.test never resolves: the rule must act before any DNS lookup.
        result = curl("--socks5-hostname", self.proxy,
                      f"http://blocked.test:{self.origin.port}/size/64")
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])

    def test_ip_rule_blocks(self):
        direct = curl(self.origin2.url("/size/16"))
        self.assert_curl_ok(direct, b"x" * 16)  # the target itself is up
        result = curl("--socks5", self.proxy, self.origin2.url("/size/16"))
        self.assert_curl_fails(result)
        self.assertEqual(len(self.origin2.requests), 1, "only the direct request arrived")

    def test_port_rule_blocks(self):
        result = curl("--socks5", self.proxy, self.blocked_port_origin.url("/size/16"))
        self.assert_curl_fails(result)
        self.assertEqual(self.blocked_port_origin.requests, [])

    def test_inbound_tag_rule_blocks(self):
        result = curl("--socks5", f"{LOOPBACK}:{self.strict_port}", self.origin.url("/size/8"))
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])


class SniffingTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.tls = harness.tls_origin(self.res)
        self.cert = self.res.path("origin-cert.pem")
        self.port = harness.free_port()
        rules = [{"type": "field", "domain": ["full:blocked.test"], "outboundTag": "block"}]
        self.server = self.start_server(harness.base_config(
            [harness.socks_inbound(self.port, sniffing=["http", "tls"])], OUTBOUNDS, rules))
        self.proxy = f"{LOOPBACK}:{self.port}"

    def test_http_host_allowed(self):
        # The client names an IP; the sniffed Host is an IP too, so nothing is overridden.
        result = curl("--socks5", self.proxy, "-H", f"Host: {LOOPBACK}",
                      self.origin.url("/size/32"))
        self.assert_curl_ok(result, b"x" * 32)

    def test_http_host_blocked(self):
        # The client connects by IP; only the Host header says blocked.test.
        result = curl("--socks5", self.proxy, "-H", "Host: blocked.test",
                      self.origin.url("/size/32"))
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])

    def test_tls_sni_allowed(self):
        result = curl("--socks5", self.proxy, "--cacert", self.cert,
                      f"https://localhost:{self.tls.port}/size/32")
        self.assert_curl_ok(result, b"x" * 32)

    def test_tls_sni_blocked(self):
        # --resolve makes curl send 127.0.0.1 to the proxy and blocked.test as the SNI.
        result = curl("--socks5", self.proxy, "--cacert", self.cert,
                      "--resolve", f"blocked.test:{self.tls.port}:{LOOPBACK}",
                      f"https://blocked.test:{self.tls.port}/size/32")
        self.assert_curl_fails(result)
        self.assertEqual(self.tls.requests, [])


@harness.xsup_only("v2ray 4.34 has no domainsExcluded, ipsExcluded or routeOnly")
class SniffingOptionsTest(harness.IntegrationTest):
    """domainsExcluded and ipsExcluded keep a sniffed domain from overriding the target;
    routeOnly uses it for routing alone."""

    def start(self, **sniffing):
        self.origin = harness.http_origin(self.res)
        self.port = harness.free_port()
        inbound = harness.socks_inbound(self.port, sniffing=["http"])
        inbound["sniffing"].update(sniffing)
        rules = [{"type": "field", "domain": ["domain:blocked.test"], "outboundTag": "block"}]
        self.start_server(harness.base_config([inbound], OUTBOUNDS, rules))

    def fetch(self, host):
        return curl("--socks5", f"{LOOPBACK}:{self.port}", "-H", f"Host: {host}",
                    self.origin.url("/size/16"))

    def test_domains_excluded_keeps_the_ip_target(self):
        self.start(domainsExcluded=["domain:blocked.test"])
        self.assert_curl_ok(self.fetch("www.blocked.test"), b"x" * 16)

    def test_ips_excluded_keeps_the_ip_target(self):
        self.start(ipsExcluded=[f"{LOOPBACK}/32"])
        self.assert_curl_ok(self.fetch("blocked.test"), b"x" * 16)

    def test_route_only_still_routes_by_the_sniffed_domain(self):
        self.start(routeOnly=True)
        self.assert_curl_fails(self.fetch("blocked.test"))
        # Not blocked: routeOnly leaves the target an IP, and the origin answers there.
        self.assert_curl_ok(self.fetch("allowed.test"), b"x" * 16)
        self.assertEqual(len(self.origin.requests), 1)


if __name__ == "__main__":
    harness.main()
