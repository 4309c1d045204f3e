#!/usr/bin/python3
"""Relay chain benchmark: xsup against v2ray in the same run.

Chain measured for each side (all on 127.0.0.1, free ports):

    iperf3 -c  ->  client proxy [dokodemo-door in -> PROTOCOL out]
               ->  server proxy [PROTOCOL in -> freedom out]
               ->  iperf3 -s

PROTOCOL is SOCKS (noauth) by default; --protocol picks VLESS, VMess (aes-128-gcm,
chacha20-poly1305), Trojan or Shadowsocks (the AEAD ciphers) instead, over plain TCP.

Rounds are interleaved (baseline, xsup, v2ray, baseline, xsup, ...), each
proxied round with a fresh pair of proxy processes. For every side the median
throughput, the peak RSS of each proxy and the CPU time per GB carried are
reported, plus the ratios xsup/v2ray.

With --haproxy a third side runs in each round: the same two hops built from two
haproxy processes (TCP mode, one thread each, splice forced both ways), plain
TCP forwarders with no SOCKS. It gives the practical ceiling of a two-process
relay chain on the machine, and the ratios xsup/haproxy are reported too.

Python standard library only. Every wait is bounded and every process this
script starts is stopped by pid on the way out, errors included.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO_ROOT = Path(__file__).resolve().parent.parent
# Exit statuses that count as a clean stop on SIGTERM.
CLEAN_EXIT = (0, -signal.SIGTERM, 128 + signal.SIGTERM)
STRACE_SYSCALLS = "splice,read,write,recvmsg,sendmsg,readv,writev"


class BenchError(Exception):
    """A failure of one measurement (a process that did not start, bad output)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- ports ----


def free_port() -> int:
    """A TCP port on loopback that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def listening_ports() -> set[int]:
    """Local TCP ports in LISTEN state, from /proc/net/tcp{,6}.

    Checking this instead of connecting keeps the readiness probe free of side
    effects: a probe connection to the dokodemo-door port would be relayed
    all the way to the iperf3 server.
    """
    ports: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    if len(cols) > 3 and cols[3] == "0A":
                        ports.add(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


# ------------------------------------------------------------ processes ----


def read_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime in ticks) of pid, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rfind(")") + 2 :].split()
    ppid = int(rest[1])
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    return ppid, ticks


def read_vmhwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def read_pss_kb(pid: int) -> int | None:
    """Proportional set size: shared pages (libraries, the binary) split between the
    processes that map them, so a supervisor and its workers are not counted three times."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def process_tree(root: int) -> list[int]:
    """root and all its live descendants (a supervisor may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = read_stat(int(entry))
        if st is not None:
            children.setdefault(st[0], []).append(int(entry))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


@dataclass
class Usage:
    """Resource use of one process tree, read just before stopping it."""

    peak_rss_kb: int = 0  # the sum of each process's peak RSS
    pss_kb: int = 0  # the sum of PSS now
    cpu_s: float = 0.0
    pids: list[int] = field(default_factory=list)


def tree_usage(root: int) -> Usage:
    u = Usage()
    for pid in process_tree(root):
        st = read_stat(pid)
        hwm = read_vmhwm_kb(pid)
        if st is None:
            continue
        u.pids.append(pid)
        u.cpu_s += st[1] / CLK_TCK
        u.peak_rss_kb += hwm or 0
        u.pss_kb += read_pss_kb(pid) or 0
    return u


def become_subreaper() -> None:
    """Orphans of the processes we start (e.g. workers whose supervisor died)
    are reparented to this script instead of PID 1, so they can be reaped."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap(pid: int, timeout: float = 2.0) -> None:
    """Collect pid's exit status if it is (now) our child; bounded wait."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() >= deadline:
            return
        time.sleep(0.02)


class Procs:
    """Every process this script starts; stop_all() ends them by pid."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        out = open(self.workdir / f"{name}.log", "wb")
        try:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        finally:
            out.close()
        self.procs.append((name, p))
        return p

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_listening(self, name: str, p: subprocess.Popen, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise BenchError(
                    f"{name} exited with status {p.returncode} before listening "
                    f"on {port}:\n{self.log_tail(name)}"
                )
            if port in listening_ports():
                return
            time.sleep(0.05)
        raise BenchError(f"{name} not listening on {port} after {START_TIMEOUT_S:.0f} s")

    def stop(self, p: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        """Stop p by pid (SIGTERM, then SIGKILL), then any descendant left over."""
        descendants: set[int] = set()
        if p.poll() is None:
            descendants = set(process_tree(p.pid)) - {p.pid}
            try:
                p.send_signal(sig)
                p.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log(f"warning: pid {p.pid} did not die after SIGKILL")
        # Workers forked by the process we started, if any outlived it. As the
        # child subreaper we inherit them, so they are reaped here too.
        for pid in descendants:
            if read_stat(pid) is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            reap(pid)

    def stop_all(self) -> None:
        for _, p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()


# -------------------------------------------------------------- configs ----


# The proxy protocol between the client and the server proxy (--protocol): the server's
# inbound settings and the client's outbound settings, in Xray's JSON (v2ray 4.34 reads it
# too). One fixed user: these are benchmarks, not deployments.
BENCH_UUID = "b831381d-6324-4d53-ad4f-8cda48b30811"
BENCH_PASSWORD = "bench-password"


def _server_address(port: int) -> dict:
    return {"address": LOOPBACK, "port": port}


def _vmess(security: str) -> tuple[dict, dict]:
    inbound = {"clients": [{"id": BENCH_UUID, "alterId": 0}]}
    outbound = {"vnext": [dict(_server_address(0), users=[
        {"id": BENCH_UUID, "alterId": 0, "security": security}])]}
    return inbound, outbound


def _shadowsocks(method: str) -> tuple[dict, dict]:
    inbound = {"method": method, "password": BENCH_PASSWORD, "network": "tcp"}
    outbound = {"servers": [dict(_server_address(0), method=method, password=BENCH_PASSWORD)]}
    return inbound, outbound


PROTOCOLS: dict[str, tuple[str, tuple[dict, dict]]] = {
    "socks": ("socks", ({"auth": "noauth", "udp": False},
                        {"servers": [_server_address(0)]})),
    "vless": ("vless", ({"clients": [{"id": BENCH_UUID}], "decryption": "none"},
                        {"vnext": [dict(_server_address(0), users=[
                            {"id": BENCH_UUID, "encryption": "none"}])]})),
    "vmess-aes-128-gcm": ("vmess", _vmess("aes-128-gcm")),
    "vmess-chacha20-poly1305": ("vmess", _vmess("chacha20-poly1305")),
    "trojan": ("trojan", ({"clients": [{"password": BENCH_PASSWORD}]},
                          {"servers": [dict(_server_address(0), password=BENCH_PASSWORD)]})),
    "ss-aes-128-gcm": ("shadowsocks", _shadowsocks("aes-128-gcm")),
    "ss-aes-256-gcm": ("shadowsocks", _shadowsocks("aes-256-gcm")),
    "ss-chacha20-ietf-poly1305": ("shadowsocks", _shadowsocks("chacha20-ietf-poly1305")),
}


def _with_port(settings: dict, port: int) -> dict:
    """The outbound settings with the server's port filled in."""
    out = json.loads(json.dumps(settings))
    for key in ("servers", "vnext"):
        for server in out.get(key, []):
            server["port"] = port
    return out


def client_config(listen_port: int, target_port: int, socks_port: int,
                  protocol: str = "socks", mux: bool = False) -> dict:
    name, (_, outbound) = PROTOCOLS[protocol]
    proxy_out = {"tag": "proxy-out", "protocol": name,
                 "settings": _with_port(outbound, socks_port)}
    if mux:
        proxy_out["mux"] = {"enabled": True, "concurrency": 8}
    return {
        "log": {"loglevel": "warning"},
        "inbounds": [
            {
                "tag": "tunnel-in",
                "listen": LOOPBACK,
                "port": listen_port,
                "protocol": "dokodemo-door",
                "settings": {"address": LOOPBACK, "port": target_port, "network": "tcp"},
            }
        ],
        "outbounds": [proxy_out],
    }


def server_config(socks_port: int, protocol: str = "socks") -> dict:
    name, (inbound, _) = PROTOCOLS[protocol]
    return {
        "log": {"loglevel": "warning"},
        "inbounds": [
            {
                "tag": "proxy-in",
                "listen": LOOPBACK,
                "port": socks_port,
                "protocol": name,
                "settings": inbound,
            }
        ],
        "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}],
    }


def haproxy_config(listen_port: int, target_port: int) -> str:
    """One hop of the haproxy reference chain: a plain TCP forwarder.

    One thread per process (like one xsup worker) and splice(2) forced in both
    directions; "option splice-auto" would only splice when haproxy guesses it
    pays off.
    """
    return f"""global
    nbthread 1
    maxconn 1024

defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    option splice-request
    option splice-response

listen relay
    bind {LOOPBACK}:{listen_port}
    server next {LOOPBACK}:{target_port}
"""


# --------------------------------------------------------------- iperf3 ----


@dataclass
class Transfer:
    bits_per_second: float
    bytes: int


def run_iperf_client(port: int, duration: float, parallel: int) -> Transfer:
    argv = ["iperf3", "-c", LOOPBACK, "-p", str(port), "-t", f"{duration:g}",
            "-P", str(parallel), "-J", "--connect-timeout", "5000"]
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=duration + 30)
    except subprocess.TimeoutExpired:
        # subprocess.run kills the child on timeout before raising.
        raise BenchError(f"iperf3 client did not finish within {duration + 30:g} s")
    try:
        doc = json.loads(cp.stdout)
    except ValueError:
        raise BenchError(f"iperf3 client: no JSON (status {cp.returncode}): "
                         f"{cp.stderr.decode(errors='replace')[-500:]}")
    if "error" in doc:
        raise BenchError(f"iperf3 client: {doc['error']}")
    try:
        received = doc["end"]["sum_received"]
        return Transfer(float(received["bits_per_second"]), int(received["bytes"]))
    except (KeyError, TypeError, ValueError):
        raise BenchError("iperf3 client: JSON without end.sum_received")


# ---------------------------------------------------------------- sides ----


@dataclass
class Side:
    """How to start one implementation: argv for a config path."""

    name: str
    exe: str
    # "xsup": EXE run -c CONFIG; "v2ray": EXE -config CONFIG;
    # "haproxy": EXE -f CONFIG -db (foreground, haproxy's own config format)
    style: str

    def argv(self, config: Path) -> list[str]:
        if self.style == "xsup":
            return [self.exe, "run", "-c", str(config)]
        if self.style == "haproxy":
            return [self.exe, "-f", str(config), "-db"]
        return [self.exe, "-config", str(config)]


@dataclass
class RoundResult:
    side: str
    round: int
    ok: bool
    error: str = ""
    gbps: float = 0.0
    bytes: int = 0
    client_rss_mb: float = 0.0
    server_rss_mb: float = 0.0
    client_pss_mb: float = 0.0
    server_pss_mb: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    cpu_s_per_gb: float = 0.0
    shutdown_errors: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, procs: Procs) -> None:
        self.args = args
        self.workdir = workdir
        self.procs = procs
        self.iperf_port = 0
        self.iperf_server: subprocess.Popen | None = None
        self.counter = 0

    def start_iperf_server(self) -> None:
        self.iperf_port = free_port()
        self.iperf_server = self.procs.start(
            "iperf3-server", ["iperf3", "-s", "-B", LOOPBACK, "-p", str(self.iperf_port)])
        self.procs.wait_listening("iperf3-server", self.iperf_server, self.iperf_port)

    def restart_iperf_server(self) -> None:
        if self.iperf_server is not None:
            self.procs.stop(self.iperf_server)
        self.start_iperf_server()

    def start_pair(self, side: Side) -> tuple[str, subprocess.Popen, str, subprocess.Popen, int]:
        """Start server then client proxy of side; returns names, processes, entry port."""
        self.counter += 1
        tag = f"{side.name}-{self.counter}"
        entry_port, socks_port = free_ports(2)
        if side.style == "haproxy":
            # Hop 1 listens where the dokodemo-door would and forwards to hop 2
            # (where the socks inbound would be), hop 2 to the iperf3 server.
            srv_cfg = self.workdir / f"{tag}-server.cfg"
            cli_cfg = self.workdir / f"{tag}-client.cfg"
            srv_cfg.write_text(haproxy_config(socks_port, self.iperf_port))
            cli_cfg.write_text(haproxy_config(entry_port, socks_port))
        else:
            srv_cfg = self.workdir / f"{tag}-server.json"
            cli_cfg = self.workdir / f"{tag}-client.json"
            srv_doc = server_config(socks_port, self.args.protocol)
            cli_doc = client_config(entry_port, self.iperf_port, socks_port, self.args.protocol,
                                    self.args.mux)
            if side.style == "xsup":
                # xsup's own section: worker count, a control socket and a store per process.
                for doc, role in ((srv_doc, "server"), (cli_doc, "client")):
                    section = {"controlSocket": str(self.workdir / f"{tag}-{role}.sock"),
                               "store": str(self.workdir / f"{tag}-{role}.db")}
                    if self.args.workers:
                        section["workers"] = self.args.workers
                    doc["xsup"] = section
            srv_cfg.write_text(json.dumps(srv_doc, indent=2))
            cli_cfg.write_text(json.dumps(cli_doc, indent=2))
        srv_name, cli_name = f"{tag}-server", f"{tag}-client"
        srv = self.procs.start(srv_name, side.argv(srv_cfg))
        self.procs.wait_listening(srv_name, srv, socks_port)
        cli = self.procs.start(cli_name, side.argv(cli_cfg))
        self.procs.wait_listening(cli_name, cli, entry_port)
        return srv_name, srv, cli_name, cli, entry_port

    def round_baseline(self, rnd: int) -> RoundResult:
        try:
            t = run_iperf_client(self.iperf_port, self.args.duration, self.args.parallel)
        except BenchError as e:
            return RoundResult("baseline", rnd, False, str(e))
        return RoundResult("baseline", rnd, True, gbps=t.bits_per_second / 1e9, bytes=t.bytes)

    def round_proxied(self, side: Side, rnd: int) -> RoundResult:
        srv = cli = None
        shutdown: list[str] = []
        try:
            srv_name, srv, cli_name, cli, entry = self.start_pair(side)
            t = run_iperf_client(entry, self.args.duration, self.args.parallel)
            # Read usage just before stopping, while both trees are alive.
            cu, su = tree_usage(cli.pid), tree_usage(srv.pid)
            for name, p in (("client", cli), ("server", srv)):
                if p.poll() is not None:
                    raise BenchError(f"{side.name} {name} proxy died during the transfer "
                                     f"(status {p.returncode})")
            # A clean stop is part of the result: report a crash on SIGTERM.
            for name, p in ((cli_name, cli), (srv_name, srv)):
                self.procs.stop(p)
                if p.returncode not in CLEAN_EXIT:
                    shutdown.append(f"{name} exited with status {p.returncode} on SIGTERM: "
                                    + self.procs.log_tail(name, 1))
        except BenchError as e:
            return RoundResult(side.name, rnd, False, str(e))
        finally:
            for p in (cli, srv):
                if p is not None:
                    self.procs.stop(p)
        cpu = cu.cpu_s + su.cpu_s
        gb = t.bytes / 1e9
        return RoundResult(
            side.name, rnd, True,
            gbps=t.bits_per_second / 1e9, bytes=t.bytes,
            client_rss_mb=cu.peak_rss_kb / 1024, server_rss_mb=su.peak_rss_kb / 1024,
            client_pss_mb=cu.pss_kb / 1024, server_pss_mb=su.pss_kb / 1024,
            client_cpu_s=cu.cpu_s, server_cpu_s=su.cpu_s,
            cpu_s_per_gb=cpu / gb if gb > 0 else float("nan"),
            shutdown_errors=shutdown,
        )

    def strace_round(self, side: Side) -> dict:
        """One short round with the server-side proxy traced by strace -c."""
        out_file = self.workdir / "strace-server.txt"
        srv = cli = tracer = None
        result: dict = {"side": side.name, "ok": False}
        try:
            srv_name, srv, cli_name, cli, entry = self.start_pair(side)
            pids = process_tree(srv.pid)
            argv = ["strace", "-f", "-c", "-e", f"trace={STRACE_SYSCALLS}", "-o", str(out_file)]
            for pid in pids:
                argv += ["-p", str(pid)]
            tracer = self.procs.start("strace", argv)
            self.wait_attached(tracer, len(pids))
            t = run_iperf_client(entry, self.args.strace_duration, self.args.parallel)
            result["gbps_under_strace"] = t.bits_per_second / 1e9
            result["bytes"] = t.bytes
        except BenchError as e:
            result["error"] = str(e)
            return result
        finally:
            if tracer is not None:
                # SIGINT makes strace detach and write its summary.
                self.procs.stop(tracer, signal.SIGINT)
            for p in (cli, srv):
                if p is not None:
                    self.procs.stop(p)
        result["ok"] = True
        result["syscalls"] = parse_strace_summary(out_file)
        result["splice_log_lines"] = {
            name: count_word(self.procs.log_path(name), "splice")
            for name in (srv_name, cli_name)
        }
        return result

    def wait_attached(self, tracer: subprocess.Popen, npids: int) -> None:
        """strace reports each attach on stderr ("Process N attached")."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if tracer.poll() is not None:
                raise BenchError(f"strace exited with status {tracer.returncode}:\n"
                                 f"{self.procs.log_tail('strace')}")
            text = self.procs.log_path("strace").read_text(errors="replace")
            if text.count("attached") >= npids:
                return
            time.sleep(0.05)
        raise BenchError("strace did not attach within 10 s")


def count_word(path: Path, word: str) -> int:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return sum(1 for line in f if word in line.lower())
    except OSError:
        return 0


def parse_strace_summary(path: Path) -> dict[str, dict]:
    """{syscall: {calls, errors, seconds}} from an `strace -c` table."""
    rows: dict[str, dict] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return rows
    for line in lines:
        cols = line.split()
        if len(cols) < 5 or cols[0].startswith(("%", "-")) or cols[-1] == "total":
            continue
        try:
            seconds, calls = float(cols[1]), int(cols[3])
        except ValueError:
            continue
        errors = int(cols[4]) if len(cols) == 6 else 0
        rows[cols[-1]] = {"calls": calls, "errors": errors, "seconds": seconds}
    return rows


# -------------------------------------------------------------- summary ----


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: list[RoundResult], with_haproxy: bool = False) -> dict:
    names = ("baseline", "xsup", "v2ray") + (("haproxy",) if with_haproxy else ())
    sides: dict[str, dict] = {}
    for name in names:
        ok = [r for r in results if r.side == name and r.ok]
        all_rounds = [r for r in results if r.side == name]
        s = {
            "rounds_ok": len(ok),
            "rounds": len(all_rounds),
            "gbps_median": median_or_none([r.gbps for r in ok]),
            "gbps_all": [round(r.gbps, 3) for r in ok],
            "errors": [r.error for r in all_rounds if not r.ok],
            "shutdown_errors": [e for r in all_rounds for e in r.shutdown_errors],
        }
        if name != "baseline":
            s["client_rss_mb_median"] = median_or_none([r.client_rss_mb for r in ok])
            s["server_rss_mb_median"] = median_or_none([r.server_rss_mb for r in ok])
            s["client_pss_mb_median"] = median_or_none([r.client_pss_mb for r in ok])
            s["server_pss_mb_median"] = median_or_none([r.server_pss_mb for r in ok])
            s["cpu_s_median"] = median_or_none([r.client_cpu_s + r.server_cpu_s for r in ok])
            s["cpu_s_per_gb_median"] = median_or_none([r.cpu_s_per_gb for r in ok])
        sides[name] = s

    # Ratios within each round (the sides ran back to back) drift less with
    # the machine's load than the ratio of the two medians.
    by_round: dict[int, dict[str, RoundResult]] = {}
    for r in results:
        if r.ok:
            by_round.setdefault(r.round, {})[r.side] = r

    def ratios(ref: str) -> dict:
        x, v = sides["xsup"], sides[ref]

        def ratio(key: str) -> float | None:
            if x.get(key) and v.get(key):
                return x[key] / v[key]
            return None

        pairs = [(d["xsup"], d[ref]) for d in by_round.values() if "xsup" in d and ref in d]
        return {
            "throughput": ratio("gbps_median"),
            "cpu_per_gb": ratio("cpu_s_per_gb_median"),
            "throughput_paired_median": median_or_none(
                [a.gbps / b.gbps for a, b in pairs if b.gbps > 0]),
            "cpu_per_gb_paired_median": median_or_none(
                [a.cpu_s_per_gb / b.cpu_s_per_gb for a, b in pairs if b.cpu_s_per_gb > 0]),
        }

    out = {"sides": sides, "ratio_xsup_over_v2ray": ratios("v2ray")}
    if with_haproxy:
        out["ratio_xsup_over_haproxy"] = ratios("haproxy")
    return out


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(summary: dict, args: argparse.Namespace, labels: dict[str, str]) -> None:
    chain = args.protocol + (" + mux" if args.mux else "")
    print(f"{chain} chain, loopback, iperf3 -t {args.duration:g} -P {args.parallel}, "
          f"{args.rounds} rounds, medians")
    header = ("side", "Gb/s", "RSS client MB", "RSS server MB", "PSS client MB",
              "PSS server MB", "CPU s", "CPU s/GB", "ok")
    rows = [header]
    for name in summary["sides"]:
        s = summary["sides"][name]
        if s["rounds"] == 0:
            continue
        rows.append((
            labels.get(name, name),
            fmt(s["gbps_median"]),
            fmt(s.get("client_rss_mb_median"), ".1f"),
            fmt(s.get("server_rss_mb_median"), ".1f"),
            fmt(s.get("client_pss_mb_median"), ".1f"),
            fmt(s.get("server_pss_mb_median"), ".1f"),
            fmt(s.get("cpu_s_median")),
            fmt(s.get("cpu_s_per_gb_median"), ".3f"),
            f"{s['rounds_ok']}/{s['rounds']}",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))
    for ref in ("v2ray", "haproxy"):
        rt = summary.get(f"ratio_xsup_over_{ref}")
        if rt is None:
            continue
        print(f"xsup/{ref}: throughput {fmt(rt['throughput'])}x, "
              f"CPU per GB {fmt(rt['cpu_per_gb'])}x "
              f"(median of per-round ratios: {fmt(rt['throughput_paired_median'])}x, "
              f"{fmt(rt['cpu_per_gb_paired_median'])}x)")
    for name in summary["sides"]:
        for err in summary["sides"][name]["errors"]:
            print(f"error ({labels.get(name, name)}): " + err.replace("\n", "\n    "))
        for err in summary["sides"][name]["shutdown_errors"]:
            print(f"unclean stop ({labels.get(name, name)}): {err}")
    st = summary.get("strace")
    if st:
        print()
        print(f"strace -f -c of the server-side {labels['xsup']} "
              f"({args.strace_duration:g} s round):")
        if not st["ok"]:
            print("  failed: " + st.get("error", "").replace("\n", "\n    "))
            return
        print(f"  throughput under strace: {fmt(st['gbps_under_strace'])} Gb/s, "
              f"{st['bytes'] / 1e9:.2f} GB")
        for call in STRACE_SYSCALLS.split(","):
            row = st["syscalls"].get(call)
            calls = row["calls"] if row else 0
            errors = row["errors"] if row else 0
            print(f"  {call:<9}{calls:>12} calls {errors:>8} errors")
        for name, n in st["splice_log_lines"].items():
            print(f"  log lines mentioning 'splice' in {name}: {n}")


# ----------------------------------------------------------------- main ----


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xsup", default=str(REPO_ROOT / "build/release/xsup"),
                    help="xsup binary, started as 'XSUP run -c CONFIG' "
                         "(default: build/release/xsup in the repo)")
    ap.add_argument("--xsup-impl", choices=("xsup", "v2ray"), default="xsup",
                    help="what plays the xsup side; 'v2ray' runs v2ray there too, "
                         "to check the harness (the ratios should be about 1.0)")
    ap.add_argument("--v2ray", default="v2ray", help="v2ray binary (default: v2ray on PATH)")
    ap.add_argument("--haproxy", action="store_true",
                    help="add a reference side: the same two hops as plain TCP forwarders, "
                         "two haproxy processes (one thread, forced splice), and the "
                         "ratios xsup/haproxy")
    ap.add_argument("--haproxy-exe", default="haproxy",
                    help="haproxy binary for --haproxy (default: haproxy on PATH)")
    ap.add_argument("--mux", action="store_true",
                    help="the client's outbound carries the streams over Mux.Cool "
                         "(vless, vmess, trojan)")
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), default="socks",
                    help="the protocol between client and server proxy (default socks)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--duration", type=float, default=5.0,
                    help="iperf3 -t seconds per measurement (default 5)")
    ap.add_argument("--parallel", type=int, default=1, help="iperf3 -P streams (default 1)")
    ap.add_argument("--workers", type=int, default=0,
                    help="xsup.workers for both xsup processes (default: one per CPU)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the raw loopback iperf3 baseline")
    ap.add_argument("--strace", action="store_true",
                    help="one extra xsup round with the server-side proxy under strace -c")
    ap.add_argument("--strace-duration", type=float, default=3.0,
                    help="iperf3 -t seconds of the strace round (default 3)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir with configs and logs")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.parallel < 1 or args.strace_duration <= 0:
        ap.error("--rounds, --duration, --parallel and --strace-duration must be positive")
    return args


def resolve_exe(path: str) -> str:
    if os.sep in path:
        if not os.access(path, os.X_OK):
            raise BenchError(f"not executable: {path}")
        return path
    found = subprocess.run(["sh", "-c", 'command -v "$1"', "sh", path],
                           capture_output=True, text=True, timeout=5).stdout.strip()
    if not found:
        raise BenchError(f"not found on PATH: {path}")
    return found


def on_sigterm(signum, frame):  # noqa: ARG001
    log("chain.py: SIGTERM, stopping every process started")
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    become_subreaper()
    try:
        for tool in ("iperf3",) + (("strace",) if args.strace else ()):
            resolve_exe(tool)
        v2ray = Side("v2ray", resolve_exe(args.v2ray), "v2ray")
        if args.xsup_impl == "v2ray":
            xsup = Side("xsup", v2ray.exe, "v2ray")
        else:
            xsup = Side("xsup", resolve_exe(args.xsup), "xsup")
        haproxy = (Side("haproxy", resolve_exe(args.haproxy_exe), "haproxy")
                   if args.haproxy else None)
    except BenchError as e:
        log(f"chain.py: {e}")
        return 2
    labels = {"baseline": "raw loopback", "xsup": "xsup",
              "v2ray": "v2ray", "haproxy": "haproxy (TCP)"}
    if args.xsup_impl == "v2ray":
        labels["xsup"] = "xsup(=v2ray)"

    workdir = Path(tempfile.mkdtemp(prefix="xsup-bench-chain-"))
    procs = Procs(workdir)
    results: list[RoundResult] = []
    summary: dict = {}
    try:
        bench = Bench(args, workdir, procs)
        bench.start_iperf_server()
        for rnd in range(1, args.rounds + 1):
            plan = (([] if args.no_baseline else ["baseline"]) + ["xsup", "v2ray"]
                    + (["haproxy"] if haproxy is not None else []))
            sides = {"xsup": xsup, "v2ray": v2ray, "haproxy": haproxy}
            for name in plan:
                if name == "baseline":
                    r = bench.round_baseline(rnd)
                else:
                    r = bench.round_proxied(sides[name], rnd)
                results.append(r)
                if not r.ok:
                    # A failed round may leave iperf3 -s inside a half-run test
                    # ("server is busy"): give the next round a fresh one.
                    bench.restart_iperf_server()
                if r.ok:
                    log(f"round {rnd} {labels[name]:<13} {r.gbps:7.2f} Gb/s"
                        + ("" if name == "baseline" else
                           f"  rss {r.client_rss_mb:.1f}/{r.server_rss_mb:.1f} MB"
                           f"  cpu {r.client_cpu_s + r.server_cpu_s:.2f} s"
                           f"  {r.cpu_s_per_gb:.3f} s/GB"))
                else:
                    log(f"round {rnd} {labels[name]:<13} FAILED: {r.error}")
                for err in r.shutdown_errors:
                    log(f"round {rnd} {labels[name]:<13} unclean stop: {err}")
        summary = summarize(results, haproxy is not None)
        if args.strace:
            log(f"strace round ({args.strace_duration:g} s) ...")
            summary["strace"] = bench.strace_round(xsup)
    finally:
        procs.stop_all()
        if args.keep:
            log(f"configs and logs kept in {workdir}")
        else:
            for f in workdir.iterdir():
                f.unlink()
            workdir.rmdir()

    summary["params"] = {
        "rounds": args.rounds, "duration_s": args.duration, "parallel": args.parallel,
        "xsup": xsup.exe, "xsup_impl": args.xsup_impl, "v2ray": v2ray.exe,
        **({"haproxy": haproxy.exe} if haproxy is not None else {}),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
    }
    summary["rounds"] = [r.__dict__ for r in results]
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print_table(summary, args, labels)
    ok = all(summary["sides"][n]["rounds_ok"] > 0 for n in summary["sides"] if n != "baseline")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("chain.py: interrupted (every process started has been stopped)")
        sys.exit(130)
