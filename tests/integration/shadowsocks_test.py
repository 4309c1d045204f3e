#!/usr/bin/env python3
"""Shadowsocks AEAD against real peers, both directions, TCP and UDP (spec/shadowsocks.md):

  v2ray client (socks in, shadowsocks out) -> server under test (shadowsocks in) -> origin
  server under test as client (socks in, shadowsocks out) -> v2ray shadowsocks server
  ss-local / ss-tunnel (shadowsocks-libev) -> server under test
  server under test as client -> ss-server (shadowsocks-libev)

plus a client written here from the spec (Python `cryptography`) for what no peer shows:
probing resistance and the salt replay filter."""

import os
import shutil
import socket
import struct
import subprocess
import time

import harness
from harness import LOOPBACK, curl

PASSWORD = "ss-test-password"
# name in xsup's config, name for v2ray 4.34, name for shadowsocks-libev
AEAD = [
    ("aes-128-gcm", "aes-128-gcm", "aes-128-gcm"),
    ("aes-256-gcm", "aes-256-gcm", "aes-256-gcm"),
    ("chacha20-ietf-poly1305", "chacha20-poly1305", "chacha20-ietf-poly1305"),
]
SS_BIN = {name: shutil.which(name) or f"/usr/bin/{name}"
          for name in ("ss-server", "ss-local", "ss-tunnel")}


def ss_inbound(port, method, password=PASSWORD, network="tcp,udp", clients=None,
               tag="ss-in"):
    settings = {"network": network}
    if clients:
        settings["clients"] = clients
    else:
        settings.update({"method": method, "password": password})
    return {"tag": tag, "listen": LOOPBACK, "port": port, "protocol": "shadowsocks",
            "settings": settings}


def ss_outbound(port, method, password=PASSWORD):
    return {"tag": "ss-out", "protocol": "shadowsocks",
            "settings": {"servers": [{"address": LOOPBACK, "port": port, "method": method,
                                      "password": password}]}}


def client_config(socks_port, outbound):
    """A client: a socks inbound with UDP, everything to one shadowsocks outbound."""
    return harness.base_config([harness.socks_inbound(socks_port, udp=True, tag="client-in")],
                               [outbound])


def socks_udp_round_trip(socks_port, target_port, payload, attempts=5):
    """UDP ASSOCIATE on a SOCKS5 proxy, one datagram to LOOPBACK:target_port; the reply's
    payload (None when nothing came back)."""
    with harness.connect(socks_port) as control:
        control.sendall(b"\x05\x01\x00")
        if harness.recv_exact(control, 2) != b"\x05\x00":
            return None
        control.sendall(b"\x05\x03\x00\x01" + b"\x00" * 6)
        rep, relay_host, relay_port = harness.read_socks5_reply(control)
        if rep != 0:
            return None
        if relay_host in ("0.0.0.0", "::"):
            relay_host = LOOPBACK
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(2)
            header = b"\x00\x00\x00" + harness.socks5_address(LOOPBACK, target_port)
            for _ in range(attempts):  # UDP may be dropped; bounded retries
                udp.sendto(header + payload, (relay_host, relay_port))
                try:
                    reply, _ = udp.recvfrom(65536)
                except socket.timeout:
                    continue
                if reply[:4] != b"\x00\x00\x00\x01":
                    return None
                return reply[10:]
    return None


def udp_round_trip(port, payload, attempts=5):
    """One datagram to LOOPBACK:port (a tunnel); the reply or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2)
        for _ in range(attempts):
            udp.sendto(payload, (LOOPBACK, port))
            try:
                return udp.recvfrom(65536)[0]
            except socket.timeout:
                continue
    return None


class LibevProcess:
    """One shadowsocks-libev program on loopback, stopped by pid at cleanup."""

    def __init__(self, resources, program, args, listeners, name):
        self.log_path = resources.path(f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([SS_BIN[program], *args], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        resources.add(lambda: harness.stop_process(self.proc))
        harness.wait_until(lambda: self.proc.poll() is not None or all(
            harness.port_is_listening(p, k) for k, p in listeners), harness.START_TIMEOUT)
        if self.proc.poll() is not None:
            raise AssertionError(f"{program} exited at start:\n{self.log()}")

    def log(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")


# ---- a client from the spec, for probing and replay -----------------------------------------

def _spec_client_available():
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: F401
        return True
    except ImportError:
        return False


def evp_bytes_to_key(password, size):
    import hashlib
    out, last = b"", b""
    while len(out) < size:
        last = hashlib.md5(last + password.encode()).digest()
        out += last
    return out[:size]


def aes128_subkey(password, salt):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    return HKDF(hashes.SHA1(), 16, salt, b"ss-subkey").derive(evp_bytes_to_key(password, 16))


def aes128_request(password, target_host, target_port, payload):
    """salt || [len][address || payload] for aes-128-gcm, built from spec/shadowsocks.md A."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    salt = os.urandom(16)
    aead = AESGCM(aes128_subkey(password, salt))
    plain = harness.socks5_address(target_host, target_port) + payload
    nonce0, nonce1 = bytes(12), b"\x01" + bytes(11)
    return salt + aead.encrypt(nonce0, struct.pack("!H", len(plain)), None) + \
        aead.encrypt(nonce1, plain, None)


def aes128_read_reply(sock, password, size):
    """The server's salt and one chunk of `size` bytes, opened; the plaintext."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    wire = harness.recv_exact(sock, 16 + 18 + size + 16)
    aead = AESGCM(aes128_subkey(password, wire[:16]))
    length = aead.decrypt(bytes(12), wire[16:34], None)
    if struct.unpack("!H", length)[0] != size:
        raise AssertionError(f"chunk length {length.hex()}, expected {size}")
    return aead.decrypt(b"\x01" + bytes(11), wire[34:], None)


# ---- tests -------------------------------------------------------------------------------------

class V2rayClientTest(harness.IntegrationTest):
    """v2ray 4.34 client -> the server under test."""

    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.udp_echo = harness.echo_server(self.res, "udp")

    def start_pair(self, ours, theirs):
        server_port = harness.free_port(udp_too=True)
        socks_port = harness.free_port(udp_too=True)
        self.start_server(harness.base_config([ss_inbound(server_port, ours)]), name="server")
        self.start_server(client_config(socks_port, ss_outbound(server_port, theirs)),
                          name="v2ray-client", impl="v2ray")
        return socks_port

    def check_tcp_and_udp(self, socks_port):
        size = 1_000_000  # many chunks
        result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                      self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
        self.assert_curl_ok(result, b"x" * size)
        payload = os.urandom(1200)
        self.assertEqual(socks_udp_round_trip(socks_port, self.udp_echo.port, payload), payload)

    def test_aead_methods(self):
        for ours, theirs, _ in AEAD:
            with self.subTest(method=ours):
                self.check_tcp_and_udp(self.start_pair(ours, theirs))

    def test_multi_user_picks_the_right_key(self):
        server_port = harness.free_port(udp_too=True)
        socks_port = harness.free_port(udp_too=True)
        clients = [
            {"method": "aes-256-gcm", "password": "first-user", "email": "a@test"},
            {"method": "chacha20-poly1305", "password": "second-user", "email": "b@test"},
            {"method": "aes-128-gcm", "password": "third-user", "email": "c@test"},
        ]
        self.start_server(harness.base_config([ss_inbound(server_port, None, clients=clients)]),
                          name="server")
        self.start_server(client_config(socks_port,
                                        ss_outbound(server_port, "aes-128-gcm", "third-user")),
                          name="v2ray-client", impl="v2ray")
        self.check_tcp_and_udp(socks_port)

    def test_wrong_password_is_refused(self):
        server_port = harness.free_port(udp_too=True)
        socks_port = harness.free_port(udp_too=True)
        self.start_server(harness.base_config([ss_inbound(server_port, "aes-128-gcm")]),
                          name="server")
        self.start_server(client_config(socks_port,
                                        ss_outbound(server_port, "aes-128-gcm", "not-it")),
                          name="v2ray-client", impl="v2ray")
        result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                      self.origin.url("/size/10", host="localhost"), timeout=4)
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])
        self.assertIsNone(socks_udp_round_trip(socks_port, self.udp_echo.port, b"x", attempts=2))


class V2rayServerTest(harness.IntegrationTest):
    """The server under test as the client -> v2ray 4.34's shadowsocks server."""

    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.udp_echo = harness.echo_server(self.res, "udp")

    def test_aead_methods(self):
        for ours, theirs, _ in AEAD:
            with self.subTest(method=ours):
                server_port = harness.free_port(udp_too=True)
                socks_port = harness.free_port(udp_too=True)
                self.start_server(harness.base_config([ss_inbound(server_port, theirs)]),
                                  name="v2ray-server", impl="v2ray")
                self.start_server(client_config(socks_port, ss_outbound(server_port, ours)),
                                  name="client")
                size = 1_000_000
                result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                              self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
                self.assert_curl_ok(result, b"x" * size)
                payload = os.urandom(1200)
                self.assertEqual(socks_udp_round_trip(socks_port, self.udp_echo.port, payload),
                                 payload)


class LibevTest(harness.IntegrationTest):
    """shadowsocks-libev 3.3.5 in both roles."""

    METHODS = [m[2] for m in AEAD] + ["xchacha20-ietf-poly1305"]

    def setUp(self):
        super().setUp()
        if not os.access(SS_BIN["ss-server"], os.X_OK):
            self.skipTest("shadowsocks-libev is not installed")
        self.origin = harness.http_origin(self.res)
        self.tcp_echo = harness.echo_server(self.res, "tcp")
        self.udp_echo = harness.echo_server(self.res, "udp")

    def libev(self, program, args, listeners, name):
        return LibevProcess(self.res, program, args, listeners, name)

    def test_ss_local_and_ss_tunnel_to_our_server(self):
        for method in self.METHODS:
            if harness.under_v2ray() and method.startswith("xchacha"):
                continue  # v2ray 4.34 has no xchacha
            with self.subTest(method=method):
                server_port = harness.free_port(udp_too=True)
                local_port = harness.free_port()
                tunnel_port = harness.free_port(udp_too=True)
                self.start_server(harness.base_config([ss_inbound(server_port, method)]),
                                  name="server")
                common = ["-s", LOOPBACK, "-p", str(server_port), "-k", PASSWORD, "-m", method]
                self.libev("ss-local", [*common, "-b", LOOPBACK, "-l", str(local_port)],
                           [("tcp", local_port)], f"ss-local-{method}")
                self.libev("ss-tunnel", [*common, "-b", LOOPBACK, "-l", str(tunnel_port), "-u",
                                         "-L", f"{LOOPBACK}:{self.udp_echo.port}"],
                           [("udp", tunnel_port)], f"ss-tunnel-{method}")
                size = 1_000_000
                result = curl("--socks5-hostname", f"{LOOPBACK}:{local_port}",
                              self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
                self.assert_curl_ok(result, b"x" * size)
                payload = os.urandom(1000)
                self.assertEqual(udp_round_trip(tunnel_port, payload), payload)

    def test_our_client_to_ss_server(self):
        for method in self.METHODS:
            if harness.under_v2ray() and method.startswith("xchacha"):
                continue
            with self.subTest(method=method):
                server_port = harness.free_port(udp_too=True)
                socks_port = harness.free_port(udp_too=True)
                self.libev("ss-server", ["-s", LOOPBACK, "-p", str(server_port), "-k", PASSWORD,
                                         "-m", method, "-u"],
                           [("tcp", server_port), ("udp", server_port)], f"ss-server-{method}")
                self.start_server(client_config(socks_port, ss_outbound(server_port, method)),
                                  name="client")
                size = 1_000_000
                result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                              self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
                self.assert_curl_ok(result, b"x" * size)
                payload = os.urandom(1000)
                self.assertEqual(socks_udp_round_trip(socks_port, self.udp_echo.port, payload),
                                 payload)


def socks_echo_round_trip(socks_port, echo_port, payload):
    """CONNECT through a SOCKS5 proxy to a TCP echo; sends payload, returns what came back."""
    with harness.connect(socks_port, timeout=15) as sock:
        sock.sendall(b"\x05\x01\x00")
        if harness.recv_exact(sock, 2) != b"\x05\x00":
            return None
        sock.sendall(b"\x05\x01\x00" + harness.socks5_address(LOOPBACK, echo_port))
        rep, _, _ = harness.read_socks5_reply(sock)
        if rep != 0:
            return None
        sock.sendall(payload)
        return harness.recv_exact(sock, len(payload), limit_seconds=15)


def psk(size):
    import base64
    return base64.b64encode(os.urandom(size)).decode()


SS2022 = [("2022-blake3-aes-128-gcm", 16), ("2022-blake3-aes-256-gcm", 32),
          ("2022-blake3-chacha20-poly1305", 32)]


@harness.xsup_only("no Debian peer speaks Shadowsocks 2022: xsup client <-> xsup server")
class Shadowsocks2022Test(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.origin = harness.http_origin(self.res)
        self.tcp_echo = harness.echo_server(self.res, "tcp")
        self.udp_echo = harness.echo_server(self.res, "udp")

    def pair(self, inbound_settings, client_method, client_password):
        server_port = harness.free_port(udp_too=True)
        socks_port = harness.free_port(udp_too=True)
        inbound = {"tag": "ss-in", "listen": LOOPBACK, "port": server_port,
                   "protocol": "shadowsocks", "settings": dict(inbound_settings, network="tcp,udp")}
        self.server = self.start_server(harness.base_config([inbound]), name="server")
        self.client = self.start_server(
            client_config(socks_port, ss_outbound(server_port, client_method, client_password)),
            name="client")
        return socks_port

    def check(self, socks_port):
        size = 1_000_000
        result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                      self.origin.url(f"/size/{size}", host="localhost"), timeout=20)
        self.assert_curl_ok(result, b"x" * size)
        upload = os.urandom(300_000)
        try:
            echoed = socks_echo_round_trip(socks_port, self.tcp_echo.port, upload)
        except OSError:
            echoed = None
        if echoed != upload:
            # subTest failures do not reach the harness's log dump: print the logs here.
            print(f"\n--- server log ---\n{self.server.log()[-6000:]}\n--- client log ---\n"
                  f"{self.client.log()[-6000:]}")
        self.assertEqual(echoed, upload)
        payload = os.urandom(1200)
        self.assertEqual(socks_udp_round_trip(socks_port, self.udp_echo.port, payload), payload)

    def test_single_psk(self):
        for method, size in SS2022:
            with self.subTest(method=method):
                key = psk(size)
                self.check(self.pair({"method": method, "password": key}, method, key))

    def test_identity_headers_pick_the_user(self):
        for method, size in SS2022[:2]:
            with self.subTest(method=method):
                ipsk, first, second = psk(size), psk(size), psk(size)
                settings = {"method": method, "password": ipsk,
                            "clients": [{"password": first, "email": "a@test"},
                                        {"password": second, "email": "b@test"}]}
                self.check(self.pair(settings, method, f"{ipsk}:{second}"))

    def test_wrong_psk_is_refused(self):
        method, size = SS2022[0]
        ipsk, user = psk(size), psk(size)
        settings = {"method": method, "password": ipsk, "clients": [{"password": user}]}
        socks_port = self.pair(settings, method, f"{ipsk}:{psk(size)}")
        result = curl("--socks5-hostname", f"{LOOPBACK}:{socks_port}",
                      self.origin.url("/size/10", host="localhost"), timeout=4)
        self.assert_curl_fails(result)
        self.assertEqual(self.origin.requests, [])
        self.assertIsNone(socks_udp_round_trip(socks_port, self.udp_echo.port, b"x", attempts=2))


@harness.xsup_only("probing resistance and the replay filter are xsup's contract")
class ProbingTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        if not _spec_client_available():
            self.skipTest("python3 cryptography is not installed")
        self.echo = harness.echo_server(self.res, "tcp")
        self.port = harness.free_port(udp_too=True)
        # handshake 4 s: a failed client is read for 1..4 s, then dropped. One worker: the
        # replay filter lives in each worker process.
        config = harness.base_config([ss_inbound(self.port, "aes-128-gcm")], handshake=4)
        config["xsup"] = {"workers": 1}
        self.server = self.start_server(config, name="server")

    def test_spec_client_round_trip(self):
        with harness.connect(self.port) as sock:
            sock.sendall(aes128_request(PASSWORD, LOOPBACK, self.echo.port, b"ping"))
            self.assertEqual(aes128_read_reply(sock, PASSWORD, 4), b"ping")

    def test_garbage_is_read_on_then_dropped(self):
        with harness.connect(self.port, timeout=10) as sock:
            start = time.monotonic()
            sock.sendall(os.urandom(80))
            data, closed = harness.recv_until_closed(sock, limit_seconds=8)
            elapsed = time.monotonic() - start
        self.assertEqual(data, b"", "nothing may be sent back to a prober")
        self.assertTrue(closed, "the connection must be dropped within the handshake time")
        self.assertGreaterEqual(elapsed, 0.9, "an immediate close tells a prober too much")

    def test_replayed_salt_is_refused(self):
        request = aes128_request(PASSWORD, LOOPBACK, self.echo.port, b"once")
        with harness.connect(self.port) as sock:
            sock.sendall(request)
            self.assertEqual(aes128_read_reply(sock, PASSWORD, 4), b"once")
        with harness.connect(self.port, timeout=10) as sock:
            sock.sendall(request)
            data, closed = harness.recv_until_closed(sock, limit_seconds=8)
        self.assertEqual(data, b"", "a replayed request must get no answer")
        self.assertTrue(closed)
        self.assertTrue(any("replayed salt" in line for line in self.server.log_lines()),
                        self.server.log()[-2000:])


if __name__ == "__main__":
    harness.main()
