#!/usr/bin/env python3
"""The supervisor and its workers: status, zero-drop reload under load, a refused reload,
a killed worker, the sandbox seen from outside, SIGHUP, stop, and sd_notify."""

import json
import os
import selectors
import signal
import socket
import subprocess
import threading
import time

import harness
from harness import LOOPBACK

SANITIZED = os.environ.get("XSUP_SANITIZED", "0") == "1"


def xsup(*args, timeout=150):
    return subprocess.run([harness.XSUP_BIN, *args], capture_output=True, text=True,
                          timeout=timeout)


def door(port, target_port, tag):
    return {"tag": tag, "protocol": "dokodemo-door", "listen": LOOPBACK, "port": port,
            "settings": {"address": LOOPBACK, "port": target_port, "network": "tcp"}}


class Load:
    """`count` connections kept busy (a small echo every 200 ms each) plus short connections
    opened back to back, all through `port`; every failure is counted."""

    def __init__(self, port, count):
        self.port = port
        self.count = count
        self.failures = []
        self.short_done = 0
        self.busy_rounds = 0
        self.dead = set()  # busy connections that failed; the rest keep going
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._busy, daemon=True),
                        threading.Thread(target=self._short, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def _busy(self):
        sel = selectors.DefaultSelector()
        socks = []
        try:
            for i in range(self.count):
                s = socket.create_connection((LOOPBACK, self.port), timeout=5)
                s.setblocking(False)
                socks.append(s)
            deadline = time.monotonic() + 120  # bounded in time
            while not self.stop.is_set() and time.monotonic() < deadline:
                for i, s in enumerate(socks):
                    if i in self.dead:
                        continue
                    try:
                        s.send(f"{i:08d}".encode())
                    except OSError as error:
                        self.dead.add(i)
                        self.failures.append(f"busy connection {i}: {error}")
                for i, s in enumerate(socks):
                    if i in self.dead:
                        continue
                    want = f"{i:08d}".encode()
                    got = b""
                    limit = time.monotonic() + 5
                    while len(got) < len(want) and time.monotonic() < limit:
                        sel.register(s, selectors.EVENT_READ)
                        sel.select(timeout=0.5)
                        sel.unregister(s)
                        try:
                            chunk = s.recv(len(want) - len(got))
                        except BlockingIOError:
                            continue
                        except OSError:
                            break
                        if not chunk:
                            break
                        got += chunk
                    if got != want:
                        self.dead.add(i)
                        self.failures.append(f"busy connection {i}: got {got!r}")
                self.busy_rounds += 1
                time.sleep(0.2)
        except OSError as error:
            self.failures.append(f"busy connections: {error}")
        finally:
            for s in socks:
                s.close()

    def _short(self):
        deadline = time.monotonic() + 120
        n = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            payload = f"short {n}".encode()
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=5) as s:
                    s.sendall(payload)
                    got = harness.recv_exact(s, len(payload))
                if got != payload:
                    self.failures.append(f"short connection {n}: got {got!r}")
            except OSError as error:
                self.failures.append(f"short connection {n}: {error}")
            n += 1
            self.short_done = n


@harness.xsup_only("the supervisor is xsup's")
class SupervisorTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.echo = harness.echo_server(self.res, "tcp")
        self.port = harness.free_port()
        self.extra_port = harness.free_port()

    def config(self, extra_inbound=False, outbound_tag="direct", workers=2, drain=30):
        inbounds = [door(self.port, self.echo.port, "door")]
        if extra_inbound:
            inbounds.append(door(self.extra_port, self.echo.port, "extra"))
        config = harness.base_config(inbounds, [{"protocol": "freedom", "tag": outbound_tag}])
        config["log"] = {"loglevel": "info"}
        config["xsup"] = {"workers": workers, "drainTimeout": drain,
                          "controlSocket": self.res.path("control.sock"),
                          "store": self.res.path("xsup.db")}
        return config

    def status(self, server):
        result = xsup("status", "--json", "--control", server.control_path, timeout=10)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def reload(self, server, config, name):
        path = self.res.write_json(name, config)
        return xsup("reload", "--control", server.control_path, "-c", path)

    def test_status_lists_workers_and_listeners(self):
        server = self.start_server(self.config())
        status = self.status(server)
        self.assertEqual(status["generation"], 1)
        self.assertEqual(len(status["workers"]), 2)
        for worker in status["workers"]:
            for key in ("pid", "slot", "generation", "uptime", "connections", "restarts"):
                self.assertIn(key, worker)
        self.assertIn(f"tcp {LOOPBACK}:{self.port}", status["listeners"])
        human = xsup("status", "--control", server.control_path, timeout=10)
        self.assertEqual(human.returncode, 0, human.stderr)
        self.assertIn("generation 1", human.stdout)

    def test_reload_under_load_drops_nothing(self):
        server = self.start_server(self.config())
        iperf_port = harness.free_port()
        iperf_door = harness.free_port()
        iperf_server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(iperf_port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.res.add(lambda: harness.stop_process(iperf_server))

        def config(i):
            c = self.config(extra_inbound=i % 2 == 1, outbound_tag=f"direct{i % 3}")
            c["inbounds"].append(door(iperf_door, iperf_port, "iperf"))
            return c

        self.assertEqual(self.reload(server, config(0), "c0.json").returncode, 0)
        self.assertTrue(harness.wait_until(lambda: harness.port_is_listening(iperf_port), 5))
        load = Load(self.port, 200).start()
        iperf = subprocess.Popen(["iperf3", "-c", LOOPBACK, "-p", str(iperf_door), "-t", "15",
                                  "-J"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.res.add(lambda: harness.stop_process(iperf))
        times = []
        try:
            for i in range(1, 21):
                began = time.monotonic()
                result = self.reload(server, config(i), f"c{i}.json")
                times.append(time.monotonic() - began)
                self.assertEqual(result.returncode, 0, f"reload {i}: {result.stderr}")
                time.sleep(0.3)
            out, err = iperf.communicate(timeout=40)
        finally:
            load.finish()
        self.assertEqual(load.failures, [])
        self.assertGreater(load.busy_rounds, 5)
        self.assertGreater(load.short_done, 50)
        self.assertEqual(iperf.returncode, 0, err)
        report = json.loads(out)
        self.assertGreater(report["end"]["sum_received"]["bytes"], 0)
        self.assertNotIn("error", report)
        print(f"\n20 reloads under load: median {sorted(times)[10] * 1000:.0f} ms each, "
              f"{load.short_done} short connections, {load.busy_rounds} busy rounds")
        # With the load gone, the old generations finish draining and exit.
        self.assertTrue(harness.wait_until(
            lambda: {w["generation"] for w in self.status(server)["workers"]} == {22}, 15),
            self.status(server))

    def test_bad_reload_is_refused_and_the_old_config_serves(self):
        server = self.start_server(self.config())
        bad = self.config()
        bad["inbounds"][0]["port"] = "abc"
        result = self.reload(server, bad, "bad.json")
        self.assertEqual(result.returncode, 1)
        self.assertIn("inbounds[0].port", result.stderr)
        with harness.connect(self.port) as s:
            s.sendall(b"still here")
            self.assertEqual(harness.recv_exact(s, 10), b"still here")
        self.assertEqual(self.status(server)["generation"], 1)

    def test_killed_worker_is_replaced_and_others_carry_on(self):
        server = self.start_server(self.config())
        load = Load(self.port, 50).start()
        try:
            self.assertTrue(harness.wait_until(lambda: load.busy_rounds >= 3, 10))
            time.sleep(1.2)  # a heartbeat carries each worker's connection count
            # The worker with the fewest connections: every busy connection on the other one
            # must survive.
            victim = min(self.status(server)["workers"], key=lambda w: w["connections"])
            rounds_at_kill = load.busy_rounds
            os.kill(victim["pid"], signal.SIGKILL)
            began = time.monotonic()

            def refilled():
                workers = self.status(server)["workers"]
                return any(w["slot"] == victim["slot"] and w["pid"] != victim["pid"]
                           for w in workers)

            self.assertTrue(harness.wait_until(refilled, 1.0), "slot not refilled within 1 s")
            print(f"\nslot refilled after {(time.monotonic() - began) * 1000:.0f} ms")
            self.assertTrue(harness.wait_until(lambda: load.busy_rounds >= rounds_at_kill + 5,
                                               10), "the surviving connections stalled")
        finally:
            load.finish()
        # Connections on the killed worker die with it (the victim held `connections`, each
        # busy connection counting once); every other one went on working.
        busy_on_victim = victim["connections"]
        self.assertLessEqual(len(load.dead), busy_on_victim + 1, load.failures[:5])
        with harness.connect(self.port) as s:
            s.sendall(b"after")
            self.assertEqual(harness.recv_exact(s, 5), b"after")
        self.assertEqual(server.proc.poll(), None)

    def test_workers_are_sandboxed(self):
        if SANITIZED:
            self.skipTest("sanitizer builds run workers without the seccomp filter")
        server = self.start_server(self.config(), extra_args=["--test-triggers"])
        for worker in self.status(server)["workers"]:
            with open(f"/proc/{worker['pid']}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
            self.assertEqual(fields["NoNewPrivs"].strip(), "1")
            self.assertEqual(fields["Seccomp"].strip(), "2")
            if os.geteuid() == 0:
                uids = fields["Uid"].split()
                self.assertTrue(all(u != "0" for u in uids), fields["Uid"])
        victim = self.status(server)["workers"][0]
        result = subprocess.run(
            ["python3", "-c", CALL, server.control_path, "debug.worker_execve",
             json.dumps({"slot": victim["slot"]})], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(harness.wait_until(
            lambda: "killed by signal 31 (SIGSYS)" in server.log(), 5), server.log())
        self.assertTrue(harness.wait_until(
            lambda: any(w["slot"] == victim["slot"] and w["pid"] != victim["pid"]
                        for w in self.status(server)["workers"]), 3))

    def test_sighup_reloads_and_stop_drains(self):
        server = self.start_server(self.config(drain=5))
        os.kill(server.pid, signal.SIGHUP)
        self.assertTrue(harness.wait_until(lambda: self.status(server)["generation"] == 2, 5))
        held = harness.connect(self.port)
        held.sendall(b"x")
        self.assertEqual(harness.recv_exact(held, 1), b"x")
        result = xsup("stop", "--control", server.control_path, timeout=10)
        self.assertEqual(result.returncode, 0, result.stderr)
        # The held connection keeps working during the drain, then the supervisor exits 0.
        held.sendall(b"y")
        self.assertEqual(harness.recv_exact(held, 1), b"y")
        held.close()
        self.assertEqual(server.proc.wait(timeout=15), 0)

    def test_sd_notify(self):
        path = self.res.path("notify.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(path)
        listener.settimeout(10)
        self.res.add(listener.close)
        os.environ["NOTIFY_SOCKET"] = path
        try:
            server = self.start_server(self.config(drain=1))
        finally:
            del os.environ["NOTIFY_SOCKET"]
        seen = []

        def expect(word):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = listener.recv(4096).decode()
                seen.append(message)
                if word in message:
                    return
            self.fail(f"no {word} among {seen}")

        expect("READY=1")
        self.assertEqual(self.reload(server, self.config(drain=1), "again.json").returncode, 0)
        expect("RELOADING=1")
        expect("READY=1")
        os.kill(server.pid, signal.SIGTERM)
        expect("STOPPING=1")
        self.assertEqual(server.proc.wait(timeout=15), 0)


# A one-request JSON-RPC client, for a method the CLI does not offer.
CALL = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2],
                       "params": json.loads(sys.argv[3])}) + "\\n").encode())
reply = json.loads(s.makefile().readline())
sys.exit(0 if "result" in reply else 1)
"""


if __name__ == "__main__":
    harness.main()
