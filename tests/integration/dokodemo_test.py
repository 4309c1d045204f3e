#!/usr/bin/env python3
"""dokodemo-door with a fixed target: TCP to a TCP echo server, UDP to a UDP echo server."""

import os
import socket

import harness
from harness import LOOPBACK


class DokodemoTest(harness.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.tcp_echo = harness.echo_server(self.res, "tcp")
        self.udp_echo = harness.echo_server(self.res, "udp")
        self.tcp_port = harness.free_port()
        self.udp_port = harness.free_port(udp_too=True)
        self.server = self.start_server(harness.base_config([
            harness.dokodemo_inbound(self.tcp_port, LOOPBACK, self.tcp_echo.port, "tcp",
                                     tag="door-tcp"),
            harness.dokodemo_inbound(self.udp_port, LOOPBACK, self.udp_echo.port, "udp",
                                     tag="door-udp"),
        ]))

    def test_tcp_echo(self):
        payload = os.urandom(256 * 1024)
        with harness.connect(self.tcp_port) as sock:
            sock.sendall(b"hello")
            self.assertEqual(harness.recv_exact(sock, 5), b"hello")
            sock.sendall(payload)
            self.assertEqual(harness.recv_exact(sock, len(payload)), payload)

    def test_tcp_several_connections(self):
        sockets = [harness.connect(self.tcp_port) for _ in range(5)]
        try:
            for index, sock in enumerate(sockets):
                sock.sendall(f"conn {index}".encode())
            for index, sock in enumerate(sockets):
                expected = f"conn {index}".encode()
                self.assertEqual(harness.recv_exact(sock, len(expected)), expected)
        finally:
            for sock in sockets:
                sock.close()

    def test_udp_echo(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(2)
            for index in range(3):
                payload = f"datagram {index}".encode() + os.urandom(32)
                reply = None
                for _ in range(3):  # bounded retries: UDP may drop
                    udp.sendto(payload, (LOOPBACK, self.udp_port))
                    try:
                        reply, source = udp.recvfrom(65536)
                        break
                    except socket.timeout:
                        continue
                self.assertEqual(reply, payload)
                self.assertEqual(source, (LOOPBACK, self.udp_port))


if __name__ == "__main__":
    harness.main()
