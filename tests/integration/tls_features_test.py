#!/usr/bin/env python3
"""The rest of TLSObject (seeds/transport-config.md) and `xsup tls`:
  - `xsup tls cert` prints a working self-signed certificate (checked with openssl and
    served by an inbound), `--ca` a CA; `xsup tls certChainHash` matches the chain hash
    computed here from the DER bytes;
  - a client trusting only a `usage: "verify"` CA (disableSystemRoot), refusing without it;
  - pinnedPeerCertificateChainSha256: the right hash passes, a wrong one is refused and the
    log shows the hash seen;
  - masterKeyLog: NSS key-log lines appear in the file (opened before lockdown)."""

import base64
import hashlib
import json
import os
import ssl
import subprocess

import harness
from harness import LOOPBACK
from tls_test import (OPENSSL, TlsTestCase, certificate, tls_stream, vless_inbound,
                      vless_outbound)


def xsup(*args):
    return subprocess.run([os.environ["XSUP_BIN"], *args], capture_output=True, timeout=30)


def der_of_pem_file(path):
    with open(path) as f:
        text = f.read()
    blocks, marker = [], "-----BEGIN CERTIFICATE-----"
    while marker in text:
        start = text.index(marker)
        end = text.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
        blocks.append(ssl.PEM_cert_to_DER_cert(text[start:end] + "\n"))
        text = text[end:]
    return blocks


def expected_chain_hash(ders):
    h = None
    for der in ders:
        one = hashlib.sha256(der).digest()
        h = one if h is None else hashlib.sha256(h + one).digest()
    return base64.b64encode(h).decode()


class TlsCliTest(harness.IntegrationTest):
    @harness.xsup_only("xsup's command line")
    def test_cert_is_usable(self):
        done = xsup("tls", "cert", "--domain", "a.test", "--domain", "127.0.0.1", "--expire", "5")
        self.assertEqual(done.returncode, 0, done.stderr)
        made = json.loads(done.stdout)
        self.assertEqual(made["certificate"][0], "-----BEGIN CERTIFICATE-----")
        cert_path = self.res.path("made.pem")
        with open(cert_path, "w") as f:
            f.write("\n".join(made["certificate"]) + "\n")
        text = subprocess.run([OPENSSL, "x509", "-in", cert_path, "-noout", "-text"],
                              capture_output=True, timeout=10, check=True).stdout.decode()
        self.assertIn("DNS:a.test", text)
        self.assertIn("IP Address:127.0.0.1", text)
        self.assertIn("prime256v1", text)
        self.assertNotIn("CA:TRUE", text)
        # Served as an inline certificate by a TLS inbound.
        port = harness.free_port()
        stream = tls_stream(certificates=[{"certificate": made["certificate"],
                                           "key": made["key"]}])
        self.start_server(harness.base_config([vless_inbound(port, stream)]), name="made")
        out = subprocess.run([OPENSSL, "s_client", "-connect", f"{LOOPBACK}:{port}",
                              "-servername", "a.test", "-CAfile", cert_path, "-verify_return_error"],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stdout.decode(errors="replace")[-2000:])
        self.assertIn("Verify return code: 0 (ok)", out.stdout.decode(errors="replace"))

    @harness.xsup_only("xsup's command line")
    def test_ca_flag_and_help(self):
        done = xsup("tls", "cert", "--ca", "--expire", "2")
        self.assertEqual(done.returncode, 0, done.stderr)
        path = self.res.path("ca.pem")
        with open(path, "w") as f:
            f.write("\n".join(json.loads(done.stdout)["certificate"]) + "\n")
        text = subprocess.run([OPENSSL, "x509", "-in", path, "-noout", "-text"],
                              capture_output=True, timeout=10, check=True).stdout.decode()
        self.assertIn("CA:TRUE", text)
        self.assertIn("Certificate Sign", text)
        for args in (("tls", "--help"), ("tls", "cert", "--help"),
                     ("tls", "certChainHash", "--help")):
            done = xsup(*args)
            self.assertEqual(done.returncode, 0)
            self.assertIn(b"usage: xsup tls", done.stdout)
        self.assertNotEqual(xsup("tls", "cert", "--expire", "soon").returncode, 0)
        self.assertNotEqual(xsup("tls", "certChainHash").returncode, 0)

    @harness.xsup_only("xsup's command line")
    def test_cert_chain_hash(self):
        pki_dir = self.res.path("pki")
        os.makedirs(pki_dir)
        from tls_test import Pki
        pki = Pki(pki_dir)
        done = xsup("tls", "certChainHash", "--cert", pki.a[0])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.decode().strip(),
                         expected_chain_hash(der_of_pem_file(pki.a[0])))
        chain = self.res.path("chain.pem")
        with open(chain, "w") as out:
            for part in (pki.a[0], pki.ca_cert):
                with open(part) as f:
                    out.write(f.read())
        ders = der_of_pem_file(chain)
        self.assertEqual(len(ders), 2)
        done = xsup("tls", "certChainHash", "--cert", chain)
        self.assertEqual(done.stdout.decode().strip(), expected_chain_hash(ders))
        self.assertNotEqual(done.stdout.decode().strip(), expected_chain_hash(ders[:1]))


@harness.xsup_only("TLS client features of xsup")
class TlsClientFeaturesTest(TlsTestCase):
    def client(self, stream, trust_ca=False):
        """A socks front with a TLS outbound; returns (socks port, its process)."""
        socks_port = harness.free_port()
        config = harness.base_config([harness.socks_inbound(socks_port)],
                                     [vless_outbound(self.server_port, stream)])
        saved = os.environ.pop("SSL_CERT_FILE", None)
        if trust_ca:
            os.environ["SSL_CERT_FILE"] = self.pki.ca_cert
        else:
            # No test CA among the "system" roots: an empty bundle.
            empty = self.res.path("empty-roots.pem")
            open(empty, "w").close()
            os.environ["SSL_CERT_FILE"] = empty
        try:
            proc = self.start_server(config, name=self.name("client"))
        finally:
            os.environ.pop("SSL_CERT_FILE", None)
            if saved is not None:
                os.environ["SSL_CERT_FILE"] = saved
        return socks_port, proc

    def setUp(self):
        super().setUp()
        self.server_port = self.start_tls_server()

    def test_verify_ca_from_the_config(self):
        verify = {"usage": "verify", "certificateFile": self.pki.ca_cert}
        socks, _ = self.client(self.client_stream(certificates=[verify], disableSystemRoot=True))
        self.check_fetch(socks)
        socks, _ = self.client(self.client_stream(disableSystemRoot=True))
        self.assert_curl_fails(self.fetch(socks, timeout=10))

    def test_pinned_chain_hash(self):
        good = expected_chain_hash(der_of_pem_file(self.pki.a[0]))
        socks, _ = self.client(self.client_stream(pinnedPeerCertificateChainSha256=[good]),
                               trust_ca=True)
        self.check_fetch(socks)
        wrong = base64.b64encode(b"\x01" * 32).decode()
        socks, proc = self.client(self.client_stream(pinnedPeerCertificateChainSha256=[wrong]),
                                  trust_ca=True)
        self.assert_curl_fails(self.fetch(socks, timeout=10))
        self.assertTrue(harness.wait_until(lambda: good in proc.log(), 5),
                        proc.log()[-2000:])

    def test_master_key_log(self):
        path = self.res.path("keys.log")
        socks, _ = self.client(self.client_stream(masterKeyLog=path), trust_ca=True)
        self.check_fetch(socks)
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines)
        labels = {line.split(" ")[0] for line in lines}
        self.assertTrue(labels & {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_RANDOM"}, labels)
        for line in lines:
            self.assertEqual(len(line.split(" ")), 3, line)

    def test_session_resumption_still_fetches(self):
        socks, _ = self.client(self.client_stream(enableSessionResumption=True), trust_ca=True)
        for _ in range(3):
            self.check_fetch(socks)


if __name__ == "__main__":
    harness.main()
