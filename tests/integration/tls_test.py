#!/usr/bin/env python3
"""streamSettings.security "tls" (seeds/transport-config.md, TLSObject) on inbounds and
outbounds. Certificates come from a throw-away CA made with `openssl` in the test's temp dir.
  - `openssl s_client` against a TLS inbound: SNI picks the certificate, the ALPN result,
    rejectUnknownSni, minVersion/maxVersion;
  - curl through socks -> VLESS+TLS -> VLESS+TLS inbound, with the client verifying the
    server against the test CA (SSL_CERT_FILE), refusing an untrusted certificate, and
    accepting it only under allowInsecure;
  - Debian's v2ray 4.34 both ways for VLESS, VMess and Trojan over TLS;
  - Debian's trojan (trojan-gfw) both ways for Trojan over TLS.
Under XSUP_TEST_IMPL=v2ray every side is v2ray."""

import os
import shutil
import socket
import ssl
import subprocess
import unittest

import harness
import proxy_chain
from harness import LOOPBACK, curl

USER_ID = "27848739-7e62-4138-9fd3-098a63964b6b"
PASSWORD = "tls-trojan-password"
OPENSSL = shutil.which("openssl") or "openssl"
TROJAN_BIN = os.environ.get("TROJAN_BIN", shutil.which("trojan") or "/usr/bin/trojan")


def run(*args, timeout=30):
    return subprocess.run(list(args), check=True, capture_output=True, timeout=timeout)


class Pki:
    """A CA, two server certificates it signs (a.test, b.test) and a self-signed one."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_cert, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        run(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=xsup test CA", "-keyout", self.ca_key,
            "-out", self.ca_cert)
        self.a = self.signed("a.test")
        self.b = self.signed("b.test")
        self.rogue = self.path("rogue.pem"), self.path("rogue.key")
        run(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=a.test", "-addext",
            "subjectAltName=DNS:a.test,IP:127.0.0.1", "-keyout", self.rogue[1],
            "-out", self.rogue[0])

    def path(self, name):
        return os.path.join(self.dir, name)

    def signed(self, name):
        cert, key, csr = self.path(f"{name}.pem"), self.path(f"{name}.key"), self.path(f"{name}.csr")
        ext = self.path(f"{name}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:{name},IP:127.0.0.1\n")
        run(OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
        run(OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)
        return cert, key


def certificate(pair):
    return {"certificateFile": pair[0], "keyFile": pair[1]}


def tls_stream(**tls):
    return {"network": "tcp", "security": "tls", "tlsSettings": tls}


def vless_inbound(port, stream):
    return {"tag": "in", "listen": LOOPBACK, "port": port, "protocol": "vless",
            "settings": {"clients": [{"id": USER_ID}], "decryption": "none"},
            "streamSettings": stream}


def vless_outbound(port, stream):
    return {"tag": "proxy", "protocol": "vless", "streamSettings": stream,
            "settings": {"vnext": [{"address": LOOPBACK, "port": port,
                                    "users": [{"id": USER_ID, "encryption": "none"}]}]}}


def vmess_inbound(port, stream):
    return {"tag": "in", "listen": LOOPBACK, "port": port, "protocol": "vmess",
            "settings": {"clients": [{"id": USER_ID, "alterId": 0}]}, "streamSettings": stream}


def vmess_outbound(port, stream):
    return {"tag": "proxy", "protocol": "vmess", "streamSettings": stream,
            "settings": {"vnext": [{"address": LOOPBACK, "port": port, "users": [
                {"id": USER_ID, "alterId": 0, "security": "aes-128-gcm"}]}]}}


def trojan_inbound(port, stream):
    return {"tag": "in", "listen": LOOPBACK, "port": port, "protocol": "trojan",
            "settings": {"clients": [{"password": PASSWORD}]}, "streamSettings": stream}


def trojan_outbound(port, stream):
    return {"tag": "proxy", "protocol": "trojan", "streamSettings": stream,
            "settings": {"servers": [{"address": LOOPBACK, "port": port, "password": PASSWORD}]}}


class TlsTestCase(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.pki = Pki(self.res.tmpdir)
        self.origin = harness.http_origin(self.res)
        self.started = 0

    def name(self, role):
        """A name per process: each xsup gets its own control socket and store from it."""
        self.started += 1
        return f"{role}-{self.started}"

    def server_stream(self, **extra):
        return tls_stream(certificates=[certificate(self.pki.a), certificate(self.pki.b)], **extra)

    def client_stream(self, **extra):
        extra.setdefault("serverName", "a.test")
        return tls_stream(**extra)

    def start_tls_server(self, make_inbound=vless_inbound, impl=None, **extra):
        port = harness.free_port()
        self.start_server(harness.base_config([make_inbound(port, self.server_stream(**extra))]),
                          name=self.name(f"{impl or 'xsup'}-server"), impl=impl)
        return port

    def start_client(self, outbound, impl=None, trust_ca=True):
        """A socks front whose only outbound is `outbound`; returns the socks port."""
        socks_port = harness.free_port()
        config = harness.base_config([harness.socks_inbound(socks_port)], [outbound])
        saved = os.environ.get("SSL_CERT_FILE")
        if trust_ca:
            os.environ["SSL_CERT_FILE"] = self.pki.ca_cert
        try:
            self.start_server(config, name=self.name(f"{impl or 'xsup'}-client"), impl=impl)
        finally:
            if saved is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved
        return socks_port

    def fetch(self, socks_port, size=100, timeout=20):
        return curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                    self.origin.url(f"/size/{size}", host="localhost"), timeout=timeout)

    def check_fetch(self, socks_port):
        for size in (100, 1 << 20):
            self.assert_curl_ok(self.fetch(socks_port, size), b"x" * size)


class TlsHandshakeTest(TlsTestCase):
    """openssl s_client against a VLESS inbound with TLS."""

    def s_client(self, port, *args):
        command = [OPENSSL, "s_client", "-connect", f"{LOOPBACK}:{port}", *args]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=20)
        return result.returncode, result.stdout.decode(errors="replace")

    def test_sni_picks_the_certificate(self):
        port = self.start_tls_server()
        for name, expected in (("a.test", "CN = a.test"), ("b.test", "CN = b.test"),
                               ("unknown.test", "CN = a.test")):
            code, out = self.s_client(port, "-servername", name)
            self.assertEqual(code, 0, out)
            self.assertIn(f"subject={expected}", out, name)

    def test_unknown_sni_is_refused_with_reject_unknown_sni(self):
        port = self.start_tls_server(rejectUnknownSni=True)
        code, out = self.s_client(port, "-servername", "b.test")
        self.assertEqual(code, 0, out)
        self.assertIn("subject=CN = b.test", out)
        code, out = self.s_client(port, "-servername", "unknown.test")
        self.assertNotEqual(code, 0, out)
        self.assertNotIn("subject=", out)

    def test_alpn(self):
        port = self.start_tls_server()
        code, out = self.s_client(port, "-servername", "a.test", "-alpn", "http/1.1,h2")
        self.assertEqual(code, 0, out)
        self.assertIn("ALPN protocol: h2", out)  # the server's preference: default h2 first
        port = self.start_tls_server(alpn=["http/1.1"])
        code, out = self.s_client(port, "-servername", "a.test", "-alpn", "h2,http/1.1")
        self.assertIn("ALPN protocol: http/1.1", out)
        code, out = self.s_client(port, "-servername", "a.test", "-alpn", "h2")
        self.assertIn("No ALPN negotiated", out)

    def test_version_limits(self):
        port = self.start_tls_server(maxVersion="1.2")
        code, out = self.s_client(port, "-servername", "a.test", "-tls1_3")
        self.assertNotEqual(code, 0, out)
        code, out = self.s_client(port, "-servername", "a.test", "-tls1_2")
        self.assertEqual(code, 0, out)
        self.assertIn("Protocol  : TLSv1.2", out)
        port = self.start_tls_server(minVersion="1.3")
        code, out = self.s_client(port, "-servername", "a.test", "-tls1_2")
        self.assertNotEqual(code, 0, out)
        code, out = self.s_client(port, "-servername", "a.test")
        self.assertEqual(code, 0, out)
        self.assertIn("New, TLSv1.3,", out)

    def test_cipher_suites(self):
        port = self.start_tls_server(maxVersion="1.2",
                                     cipherSuites="TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
        code, out = self.s_client(port, "-servername", "a.test")
        self.assertEqual(code, 0, out)
        self.assertIn("ECDHE-ECDSA-CHACHA20-POLY1305", out)
        code, out = self.s_client(port, "-servername", "a.test", "-cipher",
                                  "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertNotEqual(code, 0, out)


class TlsFallbackTest(TlsTestCase):
    """Fallbacks behind TLS match on the SNI name and the ALPN protocol."""

    def exchange(self, port, server_name, alpn):
        context = ssl.create_default_context(cafile=self.pki.ca_cert)
        context.set_alpn_protocols(alpn)
        with socket.create_connection((LOOPBACK, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as sock:
                sock.settimeout(5)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(harness.recv_exact(sock, len(proxy_chain.REPLY)),
                                 proxy_chain.REPLY)

    def test_fallback_by_name_and_alpn(self):
        by_name = proxy_chain.recording_server(self.res)
        by_alpn = proxy_chain.recording_server(self.res)
        default = proxy_chain.recording_server(self.res)
        port = harness.free_port()
        inbound = vless_inbound(port, self.server_stream())
        inbound["settings"]["fallbacks"] = [{"name": "b.test", "dest": by_name.port},
                                            {"alpn": "http/1.1", "dest": by_alpn.port},
                                            {"dest": default.port}]
        self.start_server(harness.base_config([inbound]), name="fallback")
        self.exchange(port, "b.test", ["h2"])
        self.assertEqual(len(by_name.received()), 1)
        self.exchange(port, "a.test", ["http/1.1"])
        self.assertEqual(len(by_alpn.received()), 1)
        self.exchange(port, "a.test", ["h2"])
        self.assertEqual(len(default.received()), 1)
        self.assertEqual(len(by_name.received()), 1)


@harness.xsup_only("xsup's config check")
class TlsConfigCheckTest(TlsTestCase):
    def test_unreadable_certificate_is_reported_with_its_path(self):
        config = harness.base_config([vless_inbound(harness.free_port(), tls_stream(
            certificates=[{"certificateFile": self.pki.path("missing.pem"),
                           "keyFile": self.pki.a[1]}]))])
        path = self.res.write_json("bad.json", config)
        result = subprocess.run([harness.XSUP_BIN, "test", "-c", path], capture_output=True,
                                timeout=20)
        self.assertNotEqual(result.returncode, 0)
        output = (result.stdout + result.stderr).decode(errors="replace")
        self.assertIn("inbounds[0].streamSettings.tlsSettings.certificates[0].certificateFile: "
                      "cannot read", output)


class TlsChainTest(TlsTestCase):
    def test_vless_tls_chain_verifies_the_server(self):
        port = self.start_tls_server()
        self.check_fetch(self.start_client(vless_outbound(port, self.client_stream())))

    def test_untrusted_certificate_is_refused(self):
        port = harness.free_port()
        stream = tls_stream(certificates=[certificate(self.pki.rogue)])
        self.start_server(harness.base_config([vless_inbound(port, stream)]), name="rogue")
        socks = self.start_client(vless_outbound(port, self.client_stream()))
        self.assert_curl_fails(self.fetch(socks, timeout=10))
        self.assertEqual(self.origin.requests, [])

    def test_wrong_name_is_refused(self):
        port = self.start_tls_server()
        socks = self.start_client(vless_outbound(port, self.client_stream(serverName="c.test")))
        self.assert_curl_fails(self.fetch(socks, timeout=10))
        self.assertEqual(self.origin.requests, [])

    def test_allow_insecure_accepts_an_untrusted_certificate(self):
        port = harness.free_port()
        stream = tls_stream(certificates=[certificate(self.pki.rogue)])
        self.start_server(harness.base_config([vless_inbound(port, stream)]), name="rogue")
        socks = self.start_client(vless_outbound(port, self.client_stream(allowInsecure=True)),
                                  trust_ca=False)
        self.check_fetch(socks)

    def test_plain_client_to_tls_inbound_fails(self):
        port = self.start_tls_server()
        socks = self.start_client(vless_outbound(port, {"network": "tcp"}))
        self.assert_curl_fails(self.fetch(socks, timeout=10))


class TlsV2rayInteropTest(TlsTestCase):
    """v2ray 4.34 trusts the test CA through SSL_CERT_FILE as Go's crypto/x509 does."""

    def both_ways(self, make_inbound, make_outbound):
        # v2ray client -> server under test
        port = self.start_tls_server(make_inbound)
        self.check_fetch(self.start_client(make_outbound(port, self.client_stream()), "v2ray"))
        # client under test -> v2ray server
        port = self.start_tls_server(make_inbound, impl="v2ray")
        self.check_fetch(self.start_client(make_outbound(port, self.client_stream())))

    def test_vless(self):
        self.both_ways(vless_inbound, vless_outbound)

    def test_vmess(self):
        self.both_ways(vmess_inbound, vmess_outbound)

    def test_trojan(self):
        self.both_ways(trojan_inbound, trojan_outbound)


@unittest.skipUnless(os.path.exists(TROJAN_BIN), "Debian's trojan is not installed")
class TlsTrojanGfwTest(TlsTestCase):
    def start_trojan(self, config, name):
        path = self.res.write_json(f"{name}.json", config)
        log = open(self.res.path(f"{name}.log"), "wb")
        proc = subprocess.Popen([TROJAN_BIN, "-c", path], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.res.add(lambda: harness.stop_process(proc))
        port = config["local_port"]
        harness.wait_until(lambda: proc.poll() is not None or harness.port_is_listening(port),
                           10)
        self.assertIsNone(proc.poll(), "trojan exited at start")

    def test_trojan_gfw_client_to_server(self):
        port = self.start_tls_server(trojan_inbound)
        socks = harness.free_port()
        self.start_trojan({"run_type": "client", "local_addr": LOOPBACK, "local_port": socks,
                           "remote_addr": LOOPBACK, "remote_port": port, "password": [PASSWORD],
                           "log_level": 1,
                           "ssl": {"verify": True, "verify_hostname": True,
                                   "cert": self.pki.ca_cert, "sni": "a.test",
                                   "alpn": ["h2", "http/1.1"]}}, "trojan-client")
        self.check_fetch(socks)

    def test_client_to_trojan_gfw_server(self):
        port = harness.free_port()
        self.start_trojan({"run_type": "server", "local_addr": LOOPBACK, "local_port": port,
                           "remote_addr": LOOPBACK, "remote_port": self.origin.port,
                           "password": [PASSWORD], "log_level": 1,
                           "ssl": {"cert": self.pki.a[0], "key": self.pki.a[1],
                                   "alpn": ["http/1.1"]}}, "trojan-server")
        self.check_fetch(self.start_client(trojan_outbound(port, self.client_stream())))


if __name__ == "__main__":
    harness.main()
