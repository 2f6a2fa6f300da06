"""Live test: the agent's AF_PACKET capture, with its BPF filter in the kernel, on the "LAN" side of a veth
pair whose other end is in a network namespace where a client resolves names and makes TLS, HTTP and QUIC
handshakes against servers run here. All addresses are 10.231.x.y on that veth pair only: the namespace
has no other interface and no default route, so nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.dpi import dns
from agent.dpi.capture import CaptureSocket
from agent.dpi.classifier import Classifier
from agent.dpi.flows import Flow
from agent.dpi.inspector import Inspector
from agent.dpi.monitor import DpiMonitor
from tests.agent.dpi import dpi_wire as w

pytestmark = [pytest.mark.root, pytest.mark.slow]

HERE = Path(__file__).parent
REPO = HERE.parents[2]
CLIENT_MAC = "02:00:5e:31:00:02"
DEADLINE = 45.0


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


@pytest.fixture
def lan() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a network namespace and a veth pair")
    if shutil.which("ip") is None:
        pytest.skip("needs the 'ip' command (iproute2)")
    n = os.getpid() % 250 + 1
    names = {"ns": f"hsdpi{os.getpid()}", "host": f"hsd{n}h", "client": f"hsd{n}c", "net": f"10.231.{n}"}
    try:
        _ip("netns", "add", names["ns"])
        _ip("link", "add", names["host"], "type", "veth", "peer", "name", names["client"])
        _ip("link", "set", names["client"], "address", CLIENT_MAC)
        _ip("link", "set", names["client"], "netns", names["ns"])
        for last in (1, 11, 12, 13, 14):
            _ip("addr", "add", f"{names['net']}.{last}/24", "dev", names["host"])
        _ip("link", "set", names["host"], "up")
        ns = ["netns", "exec", names["ns"], "ip"]
        _ip(*ns, "addr", "add", f"{names['net']}.2/24", "dev", names["client"])
        _ip(*ns, "link", "set", names["client"], "up")
        _ip(*ns, "link", "set", "lo", "up")
        yield names
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"cannot build the test network: {exc.cmd}: {exc.stderr}")
    finally:
        _ip("netns", "del", names["ns"], check=False)  # takes the veth pair with it
        _ip("link", "del", names["host"], check=False)


def _certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "homescope-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Servers:
    """DNS, TLS, HTTP and QUIC-like servers on the host side of the veth, each in a thread."""

    def __init__(self, net: str, cert: tuple[Path, Path]) -> None:
        self.stop = threading.Event()
        self.names = {
            "www.netflix.com": f"{net}.11",
            "www.tiktok.com": f"{net}.12",
            "item.jd.com": f"{net}.13",
            "store.steampowered.com": f"{net}.14",
        }
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*map(str, cert))
        self.sockets: list[socket.socket] = []
        self.threads = [
            threading.Thread(target=self._dns, args=(self._udp(f"{net}.1", 53),), daemon=True),
            threading.Thread(target=self._quic, args=(self._udp(f"{net}.12", 443),), daemon=True),
            threading.Thread(
                target=self._tcp, args=(self._listen(f"{net}.11", 443), True, 300_000), daemon=True
            ),
            threading.Thread(
                target=self._tcp, args=(self._listen(f"{net}.14", 443), True, 100_000), daemon=True
            ),
            threading.Thread(
                target=self._tcp, args=(self._listen(f"{net}.13", 80), False, 50_000), daemon=True
            ),
        ]
        for thread in self.threads:
            thread.start()

    def _udp(self, address: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((address, port))
        sock.settimeout(0.2)
        self.sockets.append(sock)
        return sock

    def _listen(self, address: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(4)
        sock.settimeout(0.2)
        self.sockets.append(sock)
        return sock

    def _dns(self, sock: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                query, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            message = dns.parse(query)
            name = message.questions[0][0]
            address = socket.inet_aton(self.names.get(name, "10.231.0.0"))
            sock.sendto(w.dns_response(name, [address], ident=message.ident, ttl=300), peer)

    def _quic(self, sock: socket.socket) -> None:
        seen = 0
        while not self.stop.is_set():
            try:
                _data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            seen += 1
            if seen == 2:  # both Initials in: answer with ~60 KB, then a marker
                for _ in range(50):
                    sock.sendto(os.urandom(1200), peer)
                    time.sleep(0.001)
                sock.sendto(b"END", peer)

    def _tcp(self, sock: socket.socket, tls: bool, size: int) -> None:
        while not self.stop.is_set():
            try:
                conn, _peer = sock.accept()
            except TimeoutError:
                continue
            try:
                conn.settimeout(5)
                stream = self.context.wrap_socket(conn, server_side=True) if tls else conn
            except OSError:
                conn.close()
                continue
            with contextlib.suppress(OSError), stream:
                stream.recv(4096)
                stream.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + os.urandom(size))
            conn.close()  # already detached by the TLS wrapper, if any

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=2)
        for sock in self.sockets:
            sock.close()


def test_capture_names_live_handshakes_and_attributes_bytes(lan: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    classifier = Classifier()
    counting = CaptureSocket(lan["host"], count_all=True)  # the "no conntrack" mode: every packet's size
    monitor = DpiMonitor(classifier, source=counting, volumes="capture", interface=lan["host"])
    handshakes = CaptureSocket(lan["host"])  # the default kernel filter: handshakes only
    named: list[Flow] = []
    inspector = Inspector(classifier, on_flow_end=lambda flow, _reason: named.append(flow))
    servers = Servers(lan["net"], _certificate(tmp_path))
    handshake_packets = 0
    try:
        client = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                lan["ns"],
                sys.executable,
                str(HERE / "netns_client.py"),
                f"{lan['net']}.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        started = time.monotonic()
        while client.poll() is None and time.monotonic() - started < DEADLINE:
            monitor.poll(0.05)
            for packet in handshakes.read():
                handshake_packets += 1
                inspector.feed(packet)
        if client.poll() is None:
            client.kill()
            pytest.fail("the namespace client did not finish in time")
        out, err = client.communicate(timeout=5)
        assert client.returncode == 0, err
        for _ in range(10):  # drain what is still queued
            monitor.poll(0.05)
            for packet in handshakes.read():
                handshake_packets += 1
                inspector.feed(packet)
    finally:
        servers.close()
        counting_stats = counting.stats()
        monitor.close()
        handshakes.close()
    received = json.loads(out)
    assert received["tls"] > 300_000 and received["quic"] >= 50 * 1200 and received["http"] > 50_000

    # What the handshake-only filter let through was enough to name every flow, from far fewer packets.
    inspector.finish()
    hosts = {(f.host, f.host_source, f.app, f.category) for f in named}
    assert ("www.netflix.com", "sni", "netflix", "video") in hosts
    assert ("www.tiktok.com", "quic", "tiktok", "short_video") in hosts
    assert ("item.jd.com", "http", "jd", "shopping") in hosts
    assert ("store.steampowered.com", "dnscache", "steam", "game") in hosts  # TLS without SNI
    assert ("www.netflix.com", "dns", "netflix", "video") in hosts
    total_packets = monitor.inspector.packets
    print(f"\nlive: {handshake_packets} of {total_packets} packets passed the handshake filter")
    assert handshake_packets < total_packets / 3, (handshake_packets, total_packets)
    assert counting_stats.drops == 0

    # Bytes go to the client's MAC, per category, without hostnames or addresses.
    rows = {r["category"]: r for r in monitor.report() if r["station"] == CLIENT_MAC}
    print("live report:", json.dumps(list(rows.values())))
    assert rows["video"]["bytes_down"] > 300_000 and rows["video"]["top_apps"] == ["netflix"]
    assert rows["short_video"]["bytes_down"] >= 50 * 1200 and rows["short_video"]["top_apps"] == ["tiktok"]
    assert rows["shopping"]["bytes_down"] > 50_000 and rows["game"]["bytes_down"] > 100_000
    assert rows["other"]["top_apps"] == ["dns"]
    assert all(r["active_minutes"] >= 1 and r["flows"] >= 1 for r in rows.values())
    assert "netflix.com" not in json.dumps(list(rows.values())) and lan["net"] not in json.dumps(
        list(rows.values())
    )
