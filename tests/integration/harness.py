"""Shared machinery for xsup's integration tests.

Each test file starts the server under test (xsup, or v2ray 4.34 when XSUP_TEST_IMPL=v2ray)
with a config written to a temp directory, plus small origin servers on loopback, and
drives them with curl or raw sockets. Everything here is bounded in time and count, only
ever talks to loopback addresses, and kills only the processes it started, by pid.

Environment:
  XSUP_BIN         path of the xsup binary (required unless XSUP_TEST_IMPL=v2ray)
  XSUP_SOURCE_DIR  the source tree (optional; used for bundled files)
  XSUP_TEST_IMPL   "xsup" (default) or "v2ray": which server is under test
"""

import contextlib
import hashlib
import http.server
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LOOPBACK = "127.0.0.1"

IMPL = os.environ.get("XSUP_TEST_IMPL", "xsup").strip().lower() or "xsup"
XSUP_BIN = os.environ.get("XSUP_BIN", "")
XSUP_SOURCE_DIR = os.environ.get("XSUP_SOURCE_DIR", "")
V2RAY_BIN = shutil.which("v2ray") or "/usr/bin/v2ray"
CURL_BIN = shutil.which("curl") or "/usr/bin/curl"

START_TIMEOUT = 10.0  # seconds for a server's listeners to appear
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


class HarnessError(RuntimeError):
    """The test environment itself is broken (not a failure of the server under test)."""


def check_environment():
    """Fails loudly when the server under test cannot be found."""
    if IMPL not in ("xsup", "v2ray"):
        raise HarnessError(f"XSUP_TEST_IMPL must be 'xsup' or 'v2ray', not {IMPL!r}")
    if IMPL == "v2ray":
        if not os.access(V2RAY_BIN, os.X_OK):
            raise HarnessError(f"XSUP_TEST_IMPL=v2ray but no v2ray binary at {V2RAY_BIN}")
        return
    if not XSUP_BIN:
        raise HarnessError("XSUP_BIN is not set: point it at the xsup binary "
                           "(or set XSUP_TEST_IMPL=v2ray to test against v2ray)")
    if not os.access(XSUP_BIN, os.X_OK):
        raise HarnessError(f"XSUP_BIN={XSUP_BIN} is not an executable file")


def main():
    """Entry point for `python3 FILE`: checks the environment, then runs unittest."""
    try:
        check_environment()
    except HarnessError as error:
        print(f"integration harness: {error}", file=sys.stderr)
        sys.exit(2)
    unittest.main(verbosity=2)


def under_v2ray():
    return IMPL == "v2ray"


def skip_under_v2ray(reason):
    """Decorator for tests of behaviour that only xsup's contract promises."""
    return unittest.skipIf(under_v2ray(), f"v2ray differs: {reason}")


def xsup_only(reason="xsup-only behaviour"):
    return unittest.skipIf(under_v2ray(), reason)


# ---------------------------------------------------------------------------------------
# Ports and waiting


_handed_out_ports = set()
_port_lock = threading.Lock()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low, high = (int(value) for value in ports.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port, host, udp_too):
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp_too else [])
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_port(udp_too=False, host=LOOPBACK, attempts=200):
    """A port free for TCP (and UDP when asked) at the time of the call.

    Ports come from below the kernel's ephemeral range, so an outgoing connection cannot
    take one as its source port between this call and the server's bind; a port is never
    handed out twice in one run.
    """
    low, _ = _ephemeral_range()
    first, last = 15000, low - 1
    rng = random.Random()
    with _port_lock:
        for _ in range(attempts if last > first else 0):
            port = rng.randint(first, last)
            if port not in _handed_out_ports and _bindable(port, host, udp_too):
                _handed_out_ports.add(port)
                return port
        for _ in range(attempts):  # fall back to the kernel's choice
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind((host, 0))
                port = tcp.getsockname()[1]
            if port not in _handed_out_ports and _bindable(port, host, udp_too):
                _handed_out_ports.add(port)
                return port
    raise HarnessError("no free port found")


def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate() until it is true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def _listening_ports(kind):
    """Ports in LISTEN state (tcp) or bound (udp), from /proc/net, for IPv4 and IPv6."""
    ports = set()
    for family in ("", "6"):
        path = f"/proc/net/{kind}{family}"
        try:
            with open(path) as table:
                next(table, None)
                for line in table:
                    fields = line.split()
                    if len(fields) < 4:
                        continue
                    port = int(fields[1].rsplit(":", 1)[1], 16)
                    state = fields[3]
                    if kind == "udp" or state == "0A":
                        ports.add(port)
        except OSError:
            pass
    return ports


def port_is_listening(port, kind="tcp"):
    return port in _listening_ports(kind)


# ---------------------------------------------------------------------------------------
# Processes


def descendants(pid):
    """pid's children, grandchildren, ... (xsup runs workers as child processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may hold spaces.
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, frontier = [], [pid]
    while frontier and len(found) < 10000:
        current = frontier.pop()
        for child in children.get(current, []):
            found.append(child)
            frontier.append(child)
    return found


def count_fds(pid, include_children=True):
    """Open file descriptors of pid (and its descendants): the leak check's measure."""
    pids = [pid] + (descendants(pid) if include_children else [])
    total = 0
    for each in pids:
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{each}/fd"))
    return total


def stop_process(proc, grace=STOP_GRACE):
    """SIGTERM, then SIGKILL after grace seconds; only ever the given pid. Returns exit code."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=grace)


class Resources:
    """Cleanups run in reverse order, every one of them, even when one fails."""

    def __init__(self):
        self._cleanups = []
        self.tmpdir = tempfile.mkdtemp(prefix="xsup-itest-")
        self._cleanups.append(lambda: shutil.rmtree(self.tmpdir, ignore_errors=True))

    def add(self, cleanup):
        self._cleanups.append(cleanup)

    def close(self):
        errors = []
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception as error:  # keep cleaning; report afterwards
                errors.append(error)
        if errors:
            raise errors[0]

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def write_json(self, name, value):
        path = self.path(name)
        with open(path, "w") as out:
            json.dump(value, out, indent=2)
        return path


def inbound_listeners(config):
    """(kind, port) pairs the config's inbounds will listen on."""
    listeners = []
    for inbound in config.get("inbounds", []):
        port = inbound.get("port")
        if not isinstance(port, int):
            continue
        protocol = inbound.get("protocol")
        settings = inbound.get("settings", {})
        if protocol == "dokodemo-door":
            networks = str(settings.get("network", "tcp")).split(",")
            for network in networks:
                listeners.append((network.strip(), port))
        else:
            listeners.append(("tcp", port))
            if protocol == "socks" and settings.get("udp"):
                listeners.append(("udp", port))
    return listeners


class ServerProcess:
    """One running server under test (or a v2ray peer), with its log in a file."""

    def __init__(self, resources, config, name="server", impl=None, extra_args=(), cwd=None):
        self.resources = resources
        self.extra_args = None if extra_args is None else list(extra_args)
        self.cwd = cwd
        self.config = config
        self.name = name
        self.impl = impl or IMPL
        if self.impl == "xsup" and config is not None:
            # Each xsup under test gets its own control socket and store, and a short drain
            # so that SIGTERM returns quickly while a test holds connections open.
            config = dict(config)
            section = dict(config.get("xsup", {}))
            section.setdefault("controlSocket", resources.path(f"{name}.control.sock"))
            section.setdefault("drainTimeout", 2)
            section.setdefault("store", resources.path(f"{name}.db"))
            config["xsup"] = section
            self.config = config
        self.control_path = (config or {}).get("xsup", {}).get("controlSocket")
        self.config_path = resources.write_json(f"{name}.json", config)
        self.log_path = resources.path(f"{name}.log")
        self.proc = None

    def command(self):
        """The server's command line; extra_args=None runs `xsup run` with no config at all."""
        if self.impl == "v2ray":
            return [V2RAY_BIN, "-config", self.config_path, *self.extra_args]
        if self.extra_args is None:
            return [XSUP_BIN, "run"]
        return [XSUP_BIN, "run", "-c", self.config_path, *self.extra_args]

    def start(self, listeners=None, timeout=START_TIMEOUT):
        listeners = inbound_listeners(self.config) if listeners is None else listeners
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd)
        finally:
            log.close()
        self.resources.add(self.stop)

        def ready():
            if self.proc.poll() is not None:
                return True
            return all(port_is_listening(port, kind) for kind, port in listeners)

        wait_until(ready, timeout)
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} ({self.impl}) exited with code "
                                 f"{self.proc.returncode} at start; log:\n{self.log()}")
        missing = [(k, p) for k, p in listeners if not port_is_listening(p, k)]
        if missing:
            raise AssertionError(f"{self.name} ({self.impl}) not listening on {missing} after "
                                 f"{timeout}s; log:\n{self.log()}")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return None
        return stop_process(self.proc)

    def log(self):
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self):
        return self.log().splitlines()

    def fd_count(self):
        return count_fds(self.pid)


def start_server(resources, config, name="server", impl=None, extra_args=()):
    return ServerProcess(resources, config, name, impl, extra_args=extra_args).start()


# ---------------------------------------------------------------------------------------
# Config building blocks (Xray JSON; the same JSON works with v2ray 4.34)


def base_config(inbounds, outbounds=None, rules=None, handshake=None):
    config = {
        "log": {"loglevel": "debug"},
        "inbounds": inbounds,
        "outbounds": outbounds or [{"protocol": "freedom", "tag": "direct"}],
    }
    if rules:
        config["routing"] = {"domainStrategy": "AsIs", "rules": rules}
    if handshake is not None:
        config["policy"] = {"levels": {"0": {"handshake": handshake, "connIdle": 300}}}
    return config


def socks_inbound(port, accounts=None, udp=False, tag="socks-in", sniffing=None):
    settings = {"auth": "password" if accounts else "noauth", "udp": udp, "ip": LOOPBACK}
    if accounts:
        settings["accounts"] = [{"user": u, "pass": p} for u, p in accounts]
    inbound = {"tag": tag, "listen": LOOPBACK, "port": port, "protocol": "socks",
               "settings": settings}
    if sniffing:
        inbound["sniffing"] = {"enabled": True, "destOverride": list(sniffing)}
    return inbound


def http_inbound(port, accounts=None, allow_transparent=False, tag="http-in"):
    settings = {"allowTransparent": allow_transparent}
    if accounts:
        settings["accounts"] = [{"user": u, "pass": p} for u, p in accounts]
    return {"tag": tag, "listen": LOOPBACK, "port": port, "protocol": "http",
            "settings": settings}


def dokodemo_inbound(port, address, target_port, network="tcp", tag="door-in"):
    return {"tag": tag, "listen": LOOPBACK, "port": port, "protocol": "dokodemo-door",
            "settings": {"address": address, "port": target_port, "network": network}}


# ---------------------------------------------------------------------------------------
# Origins on loopback


class _OriginHandler(http.server.BaseHTTPRequestHandler):
    """/size/N -> N bytes; /headers -> the request's headers as JSON; POST -> body digest."""

    protocol_version = "HTTP/1.1"
    server_version = "xsup-itest-origin"

    def setup(self):
        super().setup()
        self.server.note_connection(self.client_address)
        self.connection.settimeout(15)

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _reply(self, status, body, content_type="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.server.note_request(self.path, self.headers)
        path = self.path
        if path.startswith("http://"):  # a proxy passing the absolute form through
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        if path.startswith("/size/"):
            try:
                size = int(path[len("/size/"):])
            except ValueError:
                return self._reply(400, b"bad size\n", "text/plain")
            size = max(0, min(size, 64 * 1024 * 1024))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            left = size
            while left > 0:
                self.wfile.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
            return None
        if path == "/headers":
            pairs = [[name, value] for name, value in self.headers.items()]
            return self._reply(200, json.dumps(pairs).encode(), "application/json")
        return self._reply(200, b"hello from origin\n", "text/plain")

    do_HEAD = do_GET

    def do_POST(self):
        self.server.note_request(self.path, self.headers)
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        left = length
        while left > 0:
            data = self.rfile.read(min(left, 65536))
            if not data:
                break
            digest.update(data)
            left -= len(data)
        body = json.dumps({"received": length - left, "sha256": digest.hexdigest()})
        return self._reply(200, body.encode(), "application/json")


class _ThreadingHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _OriginHandler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []

    def note_connection(self, address):
        with self.lock:
            self.connections += 1

    def note_request(self, path, headers):
        with self.lock:
            self.requests.append((path, dict(headers.items())))


class HttpOrigin:
    """A threaded HTTP/1.1 origin with keep-alive, optionally over TLS."""

    def __init__(self, host=LOOPBACK, tls_context=None):
        self.server = _ThreadingHTTPServer((host, 0))
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def connections(self):
        with self.server.lock:
            return self.server.connections

    @property
    def requests(self):
        with self.server.lock:
            return list(self.server.requests)

    def url(self, path="/", host=None):
        host = host or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def self_signed_cert(resources, common_name="localhost"):
    """A throw-away certificate made by `openssl req`; returns (cert_path, key_path)."""
    cert, key = resources.path("origin-cert.pem"), resources.path("origin-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={common_name}", "-keyout", key, "-out", cert,
         "-addext", f"subjectAltName=DNS:{common_name},DNS:blocked.test,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    return cert, key


def tls_origin(resources):
    cert, key = self_signed_cert(resources)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    origin = HttpOrigin(tls_context=context)
    resources.add(origin.close)
    return origin


def http_origin(resources, host=LOOPBACK):
    origin = HttpOrigin(host)
    resources.add(origin.close)
    return origin


class _EchoTCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(15)
        with contextlib.suppress(OSError):
            for _ in range(1_000_000):
                data = self.request.recv(65536)
                if not data:
                    break
                self.request.sendall(data)


class _EchoUDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # hundreds of connections arrive at once in load tests


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class EchoServer:
    """TCP or UDP echo on loopback."""

    def __init__(self, kind="tcp", host=LOOPBACK):
        if kind == "tcp":
            self.server = _TCPServer((host, 0), _EchoTCPHandler)
        else:
            self.server = _UDPServer((host, 0), _EchoUDPHandler)
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def echo_server(resources, kind="tcp"):
    server = EchoServer(kind)
    resources.add(server.close)
    return server


# ---------------------------------------------------------------------------------------
# Clients


def curl(*args, timeout=10):
    """Runs curl with a time limit; returns CompletedProcess (stdout as bytes)."""
    command = [CURL_BIN, "-sS", "--max-time", str(timeout), "--connect-timeout", "5", *args]
    return subprocess.run(command, capture_output=True, timeout=timeout + 5)


def connect(port, host=LOOPBACK, timeout=5, source=None):
    """A TCP connection, from address `source` when given (any of 127/8 on loopback)."""
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    sock.settimeout(timeout)
    return sock


def recv_exact(sock, count, limit_seconds=5):
    """Reads exactly count bytes or raises (EOF or time limit)."""
    data = b""
    deadline = time.monotonic() + limit_seconds
    while len(data) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"got {len(data)} of {count} bytes")
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"EOF after {len(data)} of {count} bytes")
        data += chunk
    return data


def recv_until_closed(sock, limit_seconds=5, max_bytes=1 << 20):
    """Reads until the peer closes; returns (data, closed). closed is False on time limit."""
    data = b""
    deadline = time.monotonic() + limit_seconds
    while len(data) < max_bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def socks5_address(host, port):
    """ATYP + DST.ADDR + DST.PORT (RFC 1928 §4)."""
    try:
        return b"\x01" + socket.inet_aton(host) + struct.pack("!H", port)
    except OSError:
        encoded = host.encode()
        return b"\x03" + bytes([len(encoded)]) + encoded + struct.pack("!H", port)


def read_socks5_reply(sock):
    """Reads a SOCKS5 reply; returns (rep, bound_host, bound_port)."""
    head = recv_exact(sock, 4)
    if head[0] != 5:
        raise ConnectionError(f"not a SOCKS5 reply: {head!r}")
    atyp = head[3]
    if atyp == 1:
        host = socket.inet_ntoa(recv_exact(sock, 4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(sock, 16))
    elif atyp == 3:
        host = recv_exact(sock, recv_exact(sock, 1)[0]).decode()
    else:
        raise ConnectionError(f"bad ATYP {atyp}")
    port = struct.unpack("!H", recv_exact(sock, 2))[0]
    return head[1], host, port


class IntegrationTest(unittest.TestCase):
    """Base class: self.res holds per-test resources, cleaned up even when a test fails."""

    def setUp(self):
        self.res = Resources()
        self.addCleanup(self.res.close)

    def start_server(self, config, name="server", impl=None, extra_args=()):
        server = start_server(self.res, config, name, impl, extra_args)
        self.addCleanup(self._dump_log_on_failure, server)
        self.addCleanup(self._check_clean_exit, server)
        return server

    def control(self, server, *args, ok=True, timeout=60):
        """Runs `xsup ARGS --control` against `server`'s control socket; with `ok`, the
        command must succeed."""
        result = subprocess.run([XSUP_BIN, *args, "--control", server.control_path],
                                capture_output=True, text=True, timeout=timeout)
        if ok:
            self.assertEqual(result.returncode, 0, f"xsup {' '.join(args)}: {result.stderr}")
        return result

    def _check_clean_exit(self, server):
        """An xsup under test must stop on SIGTERM with status 0 and no sanitizer report:
        a crash or a leak at exit fails the test that ran it."""
        if server.impl != "xsup" or server.proc is None:
            return
        was_running = server.alive()
        code = server.stop()
        log = server.log()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(marker, log, f"{server.name}: sanitizer report\n{log[-4000:]}")
        if was_running:
            self.assertEqual(code, 0, f"{server.name} exited with {code} on SIGTERM\n{log[-4000:]}")

    def _dump_log_on_failure(self, server):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed = False
        if result is not None:
            failed = any(test is self for test, _ in result.failures + result.errors)
        if failed and os.environ.get("XSUP_TEST_VERBOSE_LOG", "1") != "0":
            tail = "\n".join(server.log_lines()[-int(os.environ.get("XSUP_TEST_LOG_LINES", "60")):])
            print(f"\n--- {server.name} ({server.impl}) log tail ---\n{tail}\n---",
                  file=sys.stderr)

    def assert_curl_ok(self, result, expect=None):
        self.assertEqual(result.returncode, 0,
                         f"curl failed ({result.returncode}): {result.stderr.decode(errors='replace')}")
        if expect is not None:
            self.assertEqual(result.stdout, expect)

    def assert_curl_fails(self, result):
        self.assertNotEqual(result.returncode, 0,
                            f"curl unexpectedly succeeded: {result.stdout[:200]!r}")
