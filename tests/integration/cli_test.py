#!/usr/bin/env python3
"""xsup's command line: version, uuid, test -c, run with several -c, signals, and the bundled
quick-start config. xsup only: skipped under XSUP_TEST_IMPL=v2ray."""

import json
import os
import signal
import subprocess
import unittest

import harness
from harness import LOOPBACK, curl

UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
QUICK_START_SOCKS, QUICK_START_HTTP = 10808, 10809


def xsup(*args, cwd=None, timeout=10):
    return subprocess.run([harness.XSUP_BIN, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


@unittest.skipIf(harness.under_v2ray(), "the xsup command line has no v2ray equivalent")
class CliTest(harness.IntegrationTest):
    def write_config(self, name, config):
        path = self.res.path(name)
        with open(path, "w") as out:
            out.write(config if isinstance(config, str) else json.dumps(config))
        return path

    def test_version(self):
        result = xsup("version")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"(?m)^xsup \d+\.\d+\.\d+")

    def test_uuid(self):
        first, second = xsup("uuid"), xsup("uuid")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertRegex(first.stdout.strip(), UUID)
        self.assertRegex(second.stdout.strip(), UUID)
        self.assertNotEqual(first.stdout, second.stdout, "uuid is not random")

    def test_test_valid_config(self):
        path = self.write_config("valid.json", harness.base_config(
            [harness.socks_inbound(harness.free_port()),
             harness.http_inbound(harness.free_port())]))
        result = xsup("test", "-c", path)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_test_bad_port(self):
        config = harness.base_config([harness.socks_inbound(1080)])
        config["inbounds"][0]["port"] = "abc"
        result = xsup("test", "-c", self.write_config("bad-port.json", config))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("inbounds[0].port", result.stderr)

    def test_test_unsupported_protocol(self):
        path = self.write_config("wg.json", '{"inbounds":[{"protocol":"wireguard","port":1}]}')
        result = xsup("test", "-c", path)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("not supported yet", result.stderr)

    def test_run_merges_several_files_and_exits_0_on_sigterm(self):
        echo = harness.echo_server(self.res, "tcp")
        first_port, second_port = harness.free_port(), harness.free_port()
        first = harness.base_config(
            [harness.dokodemo_inbound(first_port, LOOPBACK, echo.port, tag="a")])
        second = {"inbounds": [harness.dokodemo_inbound(second_port, LOOPBACK, echo.port,
                                                        tag="b")]}
        second_path = self.res.write_json("second.json", second)
        server = harness.ServerProcess(self.res, first, name="first",
                                       extra_args=["-c", second_path])
        server.start(listeners=[("tcp", first_port), ("tcp", second_port)])
        for port in (first_port, second_port):
            with harness.connect(port) as sock:
                sock.sendall(b"merged")
                self.assertEqual(harness.recv_exact(sock, 6), b"merged")
        self.assertEqual(server.stop(), 0, f"exit code on SIGTERM; log:\n{server.log()}")

    def test_run_exits_0_on_sigint(self):
        port = harness.free_port()
        server = harness.start_server(self.res, harness.base_config(
            [harness.dokodemo_inbound(port, LOOPBACK, harness.free_port())]), name="sigint")
        os.kill(server.pid, signal.SIGINT)
        try:
            code = server.proc.wait(timeout=harness.STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.fail("xsup did not exit within 5 s of SIGINT")
        self.assertEqual(code, 0, server.log())

    def test_run_without_config_uses_quick_start(self):
        busy = [p for p in (QUICK_START_SOCKS, QUICK_START_HTTP)
                if harness.port_is_listening(p)]
        if busy:
            self.skipTest(f"quick-start ports busy: {busy}")
        origin = harness.http_origin(self.res)
        # An empty working directory, so no config.json there can be picked up instead.
        workdir = self.res.path("cwd")
        os.mkdir(workdir)
        server = harness.ServerProcess(self.res, {}, name="quick-start", extra_args=None,
                                       cwd=workdir)
        server.start(listeners=[("tcp", QUICK_START_SOCKS), ("tcp", QUICK_START_HTTP)])
        self.assert_curl_ok(curl("--socks5-hostname", f"{LOOPBACK}:{QUICK_START_SOCKS}",
                                 origin.url("/size/10", host="localhost")), b"x" * 10)
        self.assert_curl_ok(curl("-x", f"http://{LOOPBACK}:{QUICK_START_HTTP}",
                                 origin.url("/size/10")), b"x" * 10)
        self.assertEqual(server.stop(), 0, server.log())


if __name__ == "__main__":
    harness.main()
