#!/usr/bin/python3
"""VLESS+TLS and XTLS Vision benchmark, in one run (issue 6, "Done when").

Two comparisons, each over the same two-proxy chain on 127.0.0.1:

    sender -> client proxy [dokodemo-door in -> vless+tls out]
           -> server proxy [vless+tls in -> freedom out] -> receiver

1. "vless-tls": iperf3 through VLESS+TLS (outer TLS 1.3), xsup<->xsup against
   v2ray<->v2ray (v2ray 4.34 speaks VLESS+TLS, not Vision).
2. "inner-tls": a TLS 1.3 stream (a Python sender and receiver, one process each side,
   AES-128-GCM, 1 MiB writes, a fixed number of bytes) through xsup<->xsup VLESS+TLS with
   flow xtls-rprx-vision against the same chain without the flow. With Vision the inner
   records leave the outer TLS after the handshake and the relay splices them.

Rounds are interleaved; medians and ratios are printed. Certificates come from
`openssl req` in a temp dir; clients use allowInsecure. Every process started here is
stopped by pid on the way out (chain.Procs).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chain  # noqa: E402

LOOPBACK = chain.LOOPBACK
UUID = "5783a3e7-e373-51cd-8642-c83782b807c5"
VISION = "xtls-rprx-vision"

# The inner TLS sender: serves one connection, sends SIZE bytes through TLS 1.3, exits.
SENDER = r"""
import socket, ssl, sys
port, size, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
srv = socket.create_server(("127.0.0.1", port))
print("ready", flush=True)
while True:
    srv.settimeout(60)
    conn, _ = srv.accept()
    with ctx.wrap_socket(conn, server_side=True) as tls:
        chunk = b"\x5a" * (1 << 20)
        left = size
        while left > 0:
            n = min(left, len(chunk))
            tls.sendall(chunk[:n])
            left -= n
        try:
            tls.unwrap()
        except (OSError, ssl.SSLError):
            pass
"""


def make_cert(workdir: Path) -> tuple[str, str]:
    cert, key = str(workdir / "cert.pem"), str(workdir / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=bench.test", "-addext", "subjectAltName=DNS:bench.test",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    return cert, key


def configs(entry: int, target: int, hop: int, cert: tuple[str, str], flow: str | None,
            xsup_dir: Path | None, tag: str) -> tuple[dict, dict]:
    user = {"id": UUID, "encryption": "none"}
    client = {"id": UUID}
    if flow:
        user["flow"] = flow
        client["flow"] = flow
    server_stream = {"network": "tcp", "security": "tls", "tlsSettings": {
        "certificates": [{"certificateFile": cert[0], "keyFile": cert[1]}]}}
    client_stream = {"network": "tcp", "security": "tls", "tlsSettings": {
        "serverName": "bench.test", "allowInsecure": True}}
    server = {"log": {"loglevel": "warning"},
              "inbounds": [{"tag": "in", "listen": LOOPBACK, "port": hop, "protocol": "vless",
                            "settings": {"clients": [client], "decryption": "none"},
                            "streamSettings": server_stream}],
              "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]}
    cli = {"log": {"loglevel": "warning"},
           "inbounds": [{"tag": "tunnel-in", "listen": LOOPBACK, "port": entry,
                         "protocol": "dokodemo-door",
                         "settings": {"address": LOOPBACK, "port": target, "network": "tcp"}}],
           "outbounds": [{"tag": "proxy", "protocol": "vless", "streamSettings": client_stream,
                          "settings": {"vnext": [{"address": LOOPBACK, "port": hop,
                                                  "users": [user]}]}}]}
    if xsup_dir is not None:
        for doc, role in ((server, "server"), (cli, "client")):
            doc["xsup"] = {"controlSocket": str(xsup_dir / f"{tag}-{role}.sock"),
                           "store": str(xsup_dir / f"{tag}-{role}.db")}
    return server, cli


class Runner:
    def __init__(self, args, workdir: Path, procs: chain.Procs) -> None:
        self.args, self.workdir, self.procs = args, workdir, procs
        self.cert = make_cert(workdir)
        self.counter = 0

    def pair(self, style: str, target: int, flow: str | None):
        self.counter += 1
        tag = f"{style}-{flow or 'plain'}-{self.counter}"
        entry, hop = chain.free_ports(2)
        side = chain.Side(style, self.args.xsup if style == "xsup" else self.args.v2ray, style)
        server, cli = configs(entry, target, hop, self.cert, flow,
                              self.workdir if style == "xsup" else None, tag)
        paths = []
        for doc, role in ((server, "server"), (cli, "client")):
            path = self.workdir / f"{tag}-{role}.json"
            path.write_text(json.dumps(doc, indent=2))
            paths.append(path)
        srv = self.procs.start(f"{tag}-server", side.argv(paths[0]))
        self.procs.wait_listening(f"{tag}-server", srv, hop)
        cli_p = self.procs.start(f"{tag}-client", side.argv(paths[1]))
        self.procs.wait_listening(f"{tag}-client", cli_p, entry)
        return srv, cli_p, entry

    def iperf(self, style: str) -> float:
        iperf_port = chain.free_port()
        server = self.procs.start(f"iperf3-{self.counter}",
                                  ["iperf3", "-s", "-1", "-B", LOOPBACK, "-p", str(iperf_port)])
        self.procs.wait_listening("iperf3", server, iperf_port)
        srv, cli, entry = self.pair(style, iperf_port, None)
        try:
            return chain.run_iperf_client(entry, self.args.duration, 1).bits_per_second / 1e9
        finally:
            for p in (cli, srv, server):
                self.procs.stop(p)

    def inner_tls(self, flow: str | None) -> float:
        port = chain.free_port()
        sender = self.procs.start(f"sender-{self.counter}", [
            sys.executable, "-c", SENDER, str(port), str(self.args.bytes), *self.cert])
        self.procs.wait_listening("sender", sender, port)
        srv, cli, entry = self.pair("xsup", port, flow)
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            buf = bytearray(1 << 20)
            got = 0
            start = time.monotonic()
            with socket.create_connection((LOOPBACK, entry), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname="bench.test") as tls:
                    while got < self.args.bytes:
                        n = tls.recv_into(buf)
                        if n == 0:
                            break
                        got += n
            elapsed = time.monotonic() - start
            if got != self.args.bytes:
                raise chain.BenchError(f"inner TLS: got {got} of {self.args.bytes} bytes")
            return got * 8 / elapsed / 1e9
        finally:
            for p in (cli, srv, sender):
                self.procs.stop(p)


def median(values):
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--xsup", default=str(chain.REPO_ROOT / "build/release/xsup"))
    parser.add_argument("--v2ray", default="v2ray")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--bytes", type=int, default=2 << 30, help="inner TLS bytes per round")
    args = parser.parse_args()
    args.xsup = chain.resolve_exe(args.xsup)
    args.v2ray = chain.resolve_exe(args.v2ray)
    results: dict[str, list[float]] = {k: [] for k in
                                       ("xsup-tls", "v2ray-tls", "xsup-vision", "xsup-plain")}
    with tempfile.TemporaryDirectory(prefix="xsup-vision-bench-") as tmp:
        workdir = Path(tmp)
        procs = chain.Procs(workdir)
        try:
            runner = Runner(args, workdir, procs)
            for rnd in range(1, args.rounds + 1):
                for key, run in (("xsup-tls", lambda: runner.iperf("xsup")),
                                 ("v2ray-tls", lambda: runner.iperf("v2ray")),
                                 ("xsup-vision", lambda: runner.inner_tls(VISION)),
                                 ("xsup-plain", lambda: runner.inner_tls(None))):
                    try:
                        value = run()
                        results[key].append(value)
                        chain.log(f"round {rnd} {key}: {value:.2f} Gb/s")
                    except chain.BenchError as e:
                        chain.log(f"round {rnd} {key}: failed: {e}")
        finally:
            procs.stop_all()
    m = {k: median(v) for k, v in results.items()}
    print(f"VLESS+TLS iperf3 (Gb/s, median of {args.rounds}):  xsup {m['xsup-tls']:.2f}  "
          f"v2ray {m['v2ray-tls']:.2f}  ratio {m['xsup-tls'] / m['v2ray-tls']:.2f}")
    print(f"inner TLS 1.3 stream, xsup (Gb/s):  Vision {m['xsup-vision']:.2f}  "
          f"VLESS+TLS {m['xsup-plain']:.2f}  ratio {m['xsup-vision'] / m['xsup-plain']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
