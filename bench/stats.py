#!/usr/bin/python3
"""Traffic stats cost: the xsup SOCKS chain with `xsup.stats: true` against `false`.

Chain, as in chain.py, with password auth by a store user on the server-side proxy:

    iperf3 -c  ->  client proxy [dokodemo-door in -> socks out (user/pass)]
               ->  server proxy [socks in (auth password, a store user) -> freedom out]
               ->  iperf3 -s

Both sides authenticate the same way (a user added with `xsup user add` to a fresh store
for every measurement); the only difference is `xsup.stats` in both proxies. Rounds are
interleaved (on, off, then off, on, ...) with a fresh pair of proxies each time; the
medians, their ratio and the median of the per-round ratios are printed. With stats on,
the user's counted uplink (`xsup stats --json`) is printed beside what iperf3 carried.

Reuses chain.py's process handling and iperf3 driver. Every wait is bounded and every
process started is stopped by pid on the way out.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chain  # noqa: E402

EMAIL = "bench@stats.test"
PASSWORD = "bench-stats-secret"


@dataclass
class Result:
    side: str
    round: int
    ok: bool
    error: str = ""
    gbps: float = 0.0
    bytes: int = 0
    cpu_s_per_gb: float = 0.0
    counted_uplink: int = -1  # the user's uplink from `xsup stats --json`


def xsup_cli(exe: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=20)


class StatsBench:
    def __init__(self, args: argparse.Namespace, workdir: Path, procs: chain.Procs) -> None:
        self.args = args
        self.workdir = workdir
        self.procs = procs
        self.exe = args.xsup
        self.iperf = chain.Bench(args, workdir, procs)  # only for its iperf3 server
        self.counter = 0

    def xsup_section(self, tag: str, role: str, stats: bool) -> dict:
        section = {"controlSocket": str(self.workdir / f"{tag}-{role}.sock"),
                   "store": str(self.workdir / f"{tag}-{role}.db"),
                   "stats": stats, "statsFlushInterval": 5}
        if self.args.workers:
            section["workers"] = self.args.workers
        return section

    def measure(self, side: str, rnd: int) -> Result:
        stats = side == "on"
        self.counter += 1
        tag = f"stats-{side}-{self.counter}"
        entry_port, socks_port = chain.free_ports(2)
        srv_doc = chain.server_config(socks_port)
        srv_doc["inbounds"][0]["settings"] = {"auth": "password", "accounts": [], "udp": False}
        srv_doc["xsup"] = self.xsup_section(tag, "server", stats)
        cli_doc = chain.client_config(entry_port, self.iperf.iperf_port, socks_port)
        cli_doc["outbounds"][0]["settings"]["servers"][0]["users"] = [
            {"user": EMAIL, "pass": PASSWORD}]
        cli_doc["xsup"] = self.xsup_section(tag, "client", stats)
        srv_cfg, cli_cfg = self.workdir / f"{tag}-server.json", self.workdir / f"{tag}-client.json"
        srv_cfg.write_text(json.dumps(srv_doc, indent=2))
        cli_cfg.write_text(json.dumps(cli_doc, indent=2))
        control = srv_doc["xsup"]["controlSocket"]
        inbound_tag = srv_doc["inbounds"][0]["tag"]
        srv = cli = None
        try:
            srv = self.procs.start(f"{tag}-server", [self.exe, "run", "-c", str(srv_cfg)])
            self.procs.wait_listening(f"{tag}-server", srv, socks_port)
            added = xsup_cli(self.exe, "user", "add", "--email", EMAIL, "--inbound", inbound_tag,
                             "--password", PASSWORD, "--control", control)
            if added.returncode != 0:
                raise chain.BenchError(f"xsup user add: {added.stderr.strip()}")
            cli = self.procs.start(f"{tag}-client", [self.exe, "run", "-c", str(cli_cfg)])
            self.procs.wait_listening(f"{tag}-client", cli, entry_port)
            t = chain.run_iperf_client(entry_port, self.args.duration, self.args.parallel)
            cpu = chain.tree_usage(cli.pid).cpu_s + chain.tree_usage(srv.pid).cpu_s
            for p in (cli, srv):
                if p.poll() is not None:
                    raise chain.BenchError(f"a proxy died during the transfer ({p.returncode})")
            time.sleep(1.5)  # the workers report their counts once a second
            shown = xsup_cli(self.exe, "stats", "--json", "--control", control)
            counted = -1
            if shown.returncode == 0:
                counted = json.loads(shown.stdout).get(f"user>>>{EMAIL}>>>traffic>>>uplink", 0)
        except chain.BenchError as e:
            return Result(side, rnd, False, str(e))
        finally:
            for p in (cli, srv):
                if p is not None:
                    self.procs.stop(p)
        gb = t.bytes / 1e9
        return Result(side, rnd, True, gbps=t.bits_per_second / 1e9, bytes=t.bytes,
                      cpu_s_per_gb=cpu / gb if gb > 0 else float("nan"), counted_uplink=counted)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def summarize(results: list[Result]) -> dict:
    out: dict = {"sides": {}}
    for side in ("on", "off"):
        ok = [r for r in results if r.side == side and r.ok]
        out["sides"][side] = {
            "rounds_ok": len(ok),
            "gbps_median": median([r.gbps for r in ok]),
            "gbps_all": [round(r.gbps, 3) for r in ok],
            "cpu_s_per_gb_median": median([r.cpu_s_per_gb for r in ok]),
            "counted_over_carried": [round(r.counted_uplink / r.bytes, 4) for r in ok
                                     if r.bytes > 0 and r.counted_uplink >= 0],
            "errors": [r.error for r in results if r.side == side and not r.ok],
        }
    on, off = out["sides"]["on"], out["sides"]["off"]
    by_round: dict[int, dict[str, Result]] = {}
    for r in results:
        if r.ok:
            by_round.setdefault(r.round, {})[r.side] = r
    pairs = [(d["on"], d["off"]) for d in by_round.values() if "on" in d and "off" in d]
    out["ratio_on_over_off"] = {
        "throughput": (on["gbps_median"] / off["gbps_median"]
                       if on["gbps_median"] and off["gbps_median"] else None),
        "throughput_paired_median": median([a.gbps / b.gbps for a, b in pairs if b.gbps > 0]),
        "cpu_per_gb": (on["cpu_s_per_gb_median"] / off["cpu_s_per_gb_median"]
                       if on["cpu_s_per_gb_median"] and off["cpu_s_per_gb_median"] else None),
    }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xsup", default=str(chain.REPO_ROOT / "build/release/xsup"),
                    help="xsup binary (default: build/release/xsup in the repo)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--duration", type=float, default=5.0,
                    help="iperf3 -t seconds per measurement (default 5)")
    ap.add_argument("--parallel", type=int, default=1, help="iperf3 -P streams (default 1)")
    ap.add_argument("--workers", type=int, default=0,
                    help="xsup.workers in both proxies (default: one per CPU)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.parallel < 1:
        ap.error("--rounds, --duration and --parallel must be positive")
    return args


def on_sigterm(signum, frame):  # noqa: ARG001
    chain.log("stats.py: SIGTERM, stopping every process started")
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    chain.become_subreaper()
    try:
        chain.resolve_exe("iperf3")
        args.xsup = chain.resolve_exe(args.xsup)
    except chain.BenchError as e:
        chain.log(f"stats.py: {e}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="xsup-bench-stats-"))
    procs = chain.Procs(workdir)
    results: list[Result] = []
    try:
        bench = StatsBench(args, workdir, procs)
        bench.iperf.start_iperf_server()
        for rnd in range(1, args.rounds + 1):
            order = ("on", "off") if rnd % 2 else ("off", "on")
            for side in order:
                r = bench.measure(side, rnd)
                results.append(r)
                if r.ok:
                    counted = (f"  user uplink counted {r.counted_uplink / 1e9:.3f} GB of "
                               f"{r.bytes / 1e9:.3f} GB" if side == "on" else "")
                    chain.log(f"round {rnd} stats {side:<3} {r.gbps:7.2f} Gb/s  "
                              f"{r.cpu_s_per_gb:.3f} CPU s/GB{counted}")
                else:
                    chain.log(f"round {rnd} stats {side:<3} FAILED: {r.error}")
                    bench.iperf.restart_iperf_server()
    finally:
        procs.stop_all()
        if args.keep:
            chain.log(f"configs and logs kept in {workdir}")
        else:
            for f in workdir.iterdir():
                f.unlink()
            workdir.rmdir()
    summary = summarize(results)
    summary["params"] = {"rounds": args.rounds, "duration_s": args.duration,
                         "parallel": args.parallel, "xsup": args.xsup,
                         "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        on, off, ratio = summary["sides"]["on"], summary["sides"]["off"], summary["ratio_on_over_off"]
        print(f"SOCKS chain with a store user, iperf3 -t {args.duration:g} -P {args.parallel}, "
              f"{args.rounds} rounds, medians")
        print(f"stats on : {fmt(on['gbps_median'])} Gb/s  "
              f"{fmt(on['cpu_s_per_gb_median'], '.3f')} CPU s/GB  ({on['rounds_ok']} ok)")
        print(f"stats off: {fmt(off['gbps_median'])} Gb/s  "
              f"{fmt(off['cpu_s_per_gb_median'], '.3f')} CPU s/GB  ({off['rounds_ok']} ok)")
        print(f"on/off: throughput {fmt(ratio['throughput'], '.3f')}x (median of per-round "
              f"ratios {fmt(ratio['throughput_paired_median'], '.3f')}x), CPU per GB "
              f"{fmt(ratio['cpu_per_gb'], '.3f')}x; target: throughput within 3 %")
        print(f"counted uplink / iperf3 bytes (stats on): {on['counted_over_carried']}")
        for side in ("on", "off"):
            for err in summary["sides"][side]["errors"]:
                print(f"error (stats {side}): " + err.replace("\n", "\n    "))
    ok = all(summary["sides"][s]["rounds_ok"] > 0 for s in ("on", "off"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        chain.log("stats.py: interrupted (every process started has been stopped)")
        sys.exit(130)
