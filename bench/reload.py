#!/usr/bin/env python3
"""Time from `xsup reload` to the new generation serving.

Starts xsup on a small config (a SOCKS and an HTTP inbound, freedom), then reloads it N
times with configs that alternate an extra inbound, and for each reload measures the wall
time from launching `xsup reload` until `xsup status` reports the new generation and a TCP
connection to the added inbound is accepted. Prints each figure and the median.
Loopback only; every wait is bounded; the xsup it starts is stopped by pid."""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def config(workdir: Path, ports: list[int], workers: int) -> dict:
    inbounds = [{"tag": f"in{i}", "listen": LOOPBACK, "port": p, "protocol": "socks",
                 "settings": {"auth": "noauth"}} for i, p in enumerate(ports)]
    return {"log": {"loglevel": "warning"}, "inbounds": inbounds,
            "outbounds": [{"tag": "direct", "protocol": "freedom"}],
            "xsup": {"workers": workers, "drainTimeout": 5,
                     "controlSocket": str(workdir / "control.sock")}}


def status(xsup: str, control: str) -> dict:
    out = subprocess.run([xsup, "status", "--json", "--control", control], capture_output=True,
                         text=True, timeout=10)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xsup", default=str(REPO_ROOT / "build/release/xsup"))
    ap.add_argument("--reloads", type=int, default=10)
    ap.add_argument("--workers", type=int, default=0, help="xsup.workers (default: CPUs)")
    args = ap.parse_args()
    workers = args.workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base, extra = free_port(), free_port()
        first = workdir / "c0.json"
        first.write_text(json.dumps(config(workdir, [base], workers)))
        proc = subprocess.Popen([args.xsup, "run", "-c", str(first)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            control = str(workdir / "control.sock")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and status(args.xsup, control).get(
                    "generation") != 1:
                time.sleep(0.05)
            times = []
            for i in range(1, args.reloads + 1):
                ports = [base, extra] if i % 2 else [base]
                path = workdir / f"c{i}.json"
                path.write_text(json.dumps(config(workdir, ports, workers)))
                began = time.monotonic()
                subprocess.run([args.xsup, "reload", "--control", control, "-c", str(path)],
                               check=True, capture_output=True, timeout=30)
                probe = ports[-1]
                limit = time.monotonic() + 10
                while time.monotonic() < limit:
                    if status(args.xsup, control).get("generation") == i + 1 and accepts(probe):
                        break
                    time.sleep(0.002)
                took = (time.monotonic() - began) * 1000
                times.append(took)
                print(f"reload {i:2d}: {took:6.1f} ms")
            print(f"median {statistics.median(times):.1f} ms over {len(times)} reloads, "
                  f"{workers} workers")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
