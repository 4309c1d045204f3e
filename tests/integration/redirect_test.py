#!/usr/bin/env python3
"""dokodemo-door with followRedirect: connections an iptables REDIRECT rule diverted reach
the inbound, which recovers their original destination with SO_ORIGINAL_DST.

The test runs inside a network namespace it creates, so its NAT rule touches nothing else:
the outer process makes the namespace and re-runs this file inside it with --inner."""

import os
import shutil
import subprocess
import sys
import unittest
import uuid

import harness
from harness import LOOPBACK

INNER_FLAG = "--inner"


class RedirectTest(harness.IntegrationTest):
    def test_follow_redirect_reaches_the_original_destination(self):
        echo = harness.echo_server(self.res, "tcp")
        diverted_port = harness.free_port()  # nothing listens here; NAT sends it to xsup
        door_port = harness.free_port()
        subprocess.run(["iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", LOOPBACK,
                        "--dport", str(diverted_port), "-j", "REDIRECT", "--to-ports",
                        str(door_port)], check=True, timeout=10)
        config = harness.base_config(
            [{"tag": "door", "protocol": "dokodemo-door", "listen": LOOPBACK, "port": door_port,
              "settings": {"network": "tcp", "followRedirect": True}}],
            # freedom sends the recovered destination on to the echo server: connecting to the
            # diverted port itself would be diverted again.
            outbounds=[{"tag": "direct", "protocol": "freedom",
                        "settings": {"redirect": f"{LOOPBACK}:{echo.port}"}}])
        server = self.start_server(config)
        with harness.connect(diverted_port) as sock:
            sock.sendall(b"through the redirect")
            self.assertEqual(harness.recv_exact(sock, 20), b"through the redirect")
        self.assertTrue(harness.wait_until(
            lambda: f"tcp:{LOOPBACK}:{diverted_port}" in server.log(), 5),
            "the access log names the original destination")


def run_outer():
    if os.geteuid() != 0 or shutil.which("iptables") is None or shutil.which("ip") is None:
        print("redirect_test: skipped (needs root, ip and iptables)")
        return 0
    name = "xsup-redirect-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=10)
        inner = subprocess.run(["ip", "netns", "exec", name, sys.executable,
                                os.path.abspath(__file__), INNER_FLAG], timeout=120)
        return inner.returncode
    finally:
        subprocess.run(["ip", "netns", "del", name], timeout=10)


if __name__ == "__main__":
    if INNER_FLAG in sys.argv:
        sys.argv.remove(INNER_FLAG)
        if harness.under_v2ray():
            print("redirect_test: skipped under v2ray (followRedirect needs the same NAT set-up)")
            sys.exit(0)
        harness.main()
    else:
        sys.exit(run_outer())
