"""Identity: the generated broker configuration (ACL, accounts, TLS) against the real broker.

Gateway A must not publish on B's topics, take B's client id, read B's acks, forge acks,
or be credited as B by naming B in a payload; the collector account reads every gateway
and writes only ack/cmd. Run once with mosquitto_passwd's hashes and once with ours.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.publisher.paho_transport import PahoTransport
from collector.cli import main as collector_cli
from protocol.codec import decode, encode
from protocol.topics import topic_for
from tests.broker import free_port
from tests.faults.harness import ROOT, CollectorProc, read_store, stored_count, wait_until
from tests.protocol.messages import report

A, B = "id-a", "id-b"
MAKE_CA = ROOT / "packaging" / "mosquitto" / "make-ca.sh"


class BrokerProc:
    """Mosquitto run on a generated configuration file."""

    def __init__(self, binary: str, conf: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.port = port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


class Client:
    """A bare MQTT 5 client that records CONNACK, PUBACK reason codes and what it receives."""

    def __init__(
        self, port: int, client_id: str, username: str | None, password: str | None, **tls: str
    ) -> None:
        self.connack: str | None = None
        self.pubacks: dict[int, str] = {}
        self.received: list[tuple[str, bytes]] = []
        self.disconnected = threading.Event()
        self._lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username is not None:
            self.c.username_pw_set(username, password)
        if tls:
            self.c.tls_set(ca_certs=tls["ca"], certfile=tls.get("cert"), keyfile=tls.get("key"))
        self.c.on_connect = lambda c, u, f, rc, p: setattr(self, "connack", str(rc))
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()
        self.c.on_publish = self._on_publish
        self.c.on_message = self._on_message
        try:
            self.c.connect("127.0.0.1", port, keepalive=10)
        except OSError as exc:  # a TLS handshake the broker refuses
            self.connack = f"refused: {exc}"
            return
        self.c.loop_start()
        wait_until(lambda: self.connack is not None or self.disconnected.is_set(), 10, "CONNACK")

    def _on_publish(self, c: Any, u: Any, mid: int, rc: Any, p: Any) -> None:
        with self._lock:  # "No matching subscribers" is a success code too
            self.pubacks[mid] = str(rc) if rc.is_failure else "allowed"

    def _on_message(self, c: Any, u: Any, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((m.topic, bytes(m.payload)))

    @property
    def ok(self) -> bool:
        return self.connack == "Success" and not self.disconnected.is_set()

    def publish(self, topic: str, payload: bytes) -> str:
        """Publish at QoS 1: "allowed", or the PUBACK's failure reason ("Not authorized")."""
        info = self.c.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.pubacks, 10, f"PUBACK for {topic}")
        return self.pubacks[info.mid]

    def subscribe(self, topic: str) -> None:
        self.c.subscribe(topic, qos=1)
        time.sleep(0.2)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _credentials(out: Path) -> dict[str, str]:
    lines = (out / "credentials").read_text().splitlines()
    return dict(line.split() for line in lines if line and not line.startswith("#"))  # type: ignore[misc]


@pytest.fixture(params=["mosquitto_passwd", "builtin"])
def hasher(request: pytest.FixtureRequest) -> str:
    if request.param == "mosquitto_passwd" and shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (Debian: mosquitto)")
    return str(request.param)


@pytest.fixture
def secured(
    mosquitto_binary: str, tmp_path: Path, hasher: str
) -> Iterator[tuple[BrokerProc, dict[str, str], Path]]:
    """A broker on the configuration `homescope-collector broker-config` writes."""
    port = free_port()
    out = tmp_path / "broker"
    argv = [
        "broker-config",
        "--out",
        str(out),
        "--gateway",
        A,
        "--gateway",
        B,
        "--listen",
        f"127.0.0.1:{port}",
    ]
    argv += ["--run-as", getpass.getuser(), "--log-file", str(tmp_path / "mosquitto.log"), "--hasher", hasher]
    assert collector_cli(argv) == 0
    assert (out / "credentials").stat().st_mode & 0o077 == 0
    broker = BrokerProc(mosquitto_binary, out / "mosquitto.conf", port)
    yield broker, _credentials(out), tmp_path
    broker.stop()


@pytest.mark.timeout(90)
def test_impersonation_matrix_on_the_generated_broker_config(
    secured: tuple[BrokerProc, dict[str, str], Path], figures: Callable[..., None]
) -> None:
    broker, creds, tmp_path = secured
    url = f"mqtt://127.0.0.1:{broker.port}"
    collector = CollectorProc(tmp_path, url, mqtt_username="_collector", mqtt_password=creds["_collector"])
    collector.start()
    clients: list[Client] = []

    def client(cid: str, user: str | None, pw: str | None) -> Client:
        clients.append(Client(broker.port, cid, user, pw))
        return clients[-1]

    matrix: dict[str, tuple[str, str]] = {}  # case -> (expected, observed)

    def row(case: str, expected: str, observed: str) -> None:
        matrix[case] = (expected, observed)

    try:
        b = client(B, B, creds[B])
        b.subscribe(topic_for(B, "ack"))
        a = client(A, A, creds[A])
        assert a.ok and b.ok
        a.subscribe(topic_for(B, "ack"))  # granted by the broker, but nothing may be delivered
        a.subscribe("homescope/v1/+/report")

        row(
            "A publishes its own report",
            "allowed",
            a.publish(topic_for(A, "report"), encode(report(A, seq=1))),
        )
        row(
            "A publishes on B's report topic",
            "Not authorized",
            a.publish(topic_for(B, "report"), encode(report(B, seq=9))),
        )
        row("A publishes B's status", "Not authorized", a.publish(topic_for(B, "status"), b"x"))
        row("A forges an ack for B", "Not authorized", a.publish(topic_for(B, "ack"), b"x"))
        row("A forges an ack for itself", "Not authorized", a.publish(topic_for(A, "ack"), b"x"))
        row(
            "B publishes its own report",
            "allowed",
            b.publish(topic_for(B, "report"), encode(report(B, seq=1))),
        )
        # A names B in a payload on its own topic: quarantined, credited to A, never acked to B
        row(
            "A names B in its payload", "allowed", a.publish(topic_for(A, "report"), encode(report(B, seq=2)))
        )

        thief = client(B, A, creds[A])  # A asks for B's client id
        row(
            "A takes B's client id",
            "B stays connected",
            "B stays connected" if thief.ok and b.ok else "B kicked",
        )
        time.sleep(0.5)
        row("B still connected after", "True", str(b.ok and not b.disconnected.is_set()))
        row("A logs in as B", "refused", "refused" if not client("x1", B, creds[A]).ok else "accepted")
        row("anonymous", "refused", "refused" if not client("x2", None, None).ok else "accepted")
        row(
            "collector account publishes a report",
            "Not authorized",
            _collector_publish(broker.port, creds, "report"),
        )
        row("collector account writes cmd", "allowed", _collector_publish(broker.port, creds, "cmd"))

        transport = PahoTransport(url, A, username=A, password=creds[A])
        transport.start(lambda t, p: None, lambda: None, lambda r: None)
        wait_until(lambda: transport.connected, 10, "agent transport connected")
        transport.publish(topic_for(B, "report"), encode(report(B, seq=3)))
        wait_until(lambda: transport.refused, 10, "refusal surfaced")
        row("agent transport surfaces the refusal", "Not authorized", transport.last_refusal)
        transport.stop()

        wait_until(lambda: stored_count(collector.db) >= 2, 20, "own reports stored")
        wait_until(
            lambda: (collector.health() or {}).get("quarantined", 0) >= 1, 20, "impersonation quarantined"
        )
        time.sleep(1.0)  # time for any wrong ack to arrive
        view = read_store(collector.db)
        row("stored keys", str({(A, 7, 1), (B, 7, 1)}), str(view.keys))
        q = [(r["gateway_id"], r["reason"]) for r in view.quarantine]
        row("quarantine", str([(A, "identity_mismatch")]), str(q))
        acks_to_b = [decode(p)["ranges"] for t, p in b.received if t == topic_for(B, "ack")]
        row("acks B received", "[[[1, 1]]]", str(acks_to_b))
        row("B's acks seen by A", "[]", str([t for t, _ in a.received if t.endswith("/ack")]))
        row(
            "B's reports seen by A",
            "[]",
            str([t for t, _ in a.received if t.startswith(f"homescope/v1/{B}/")]),
        )
    finally:
        for c in clients:
            c.close()
        collector.stop()
    failed = {case: v for case, v in matrix.items() if v[0] != v[1]}
    figures(
        cases=len(matrix), failed=len(failed), **{k.replace(" ", "_")[:40]: v[1] for k, v in failed.items()}
    )
    assert not failed, failed


def _collector_publish(port: int, creds: dict[str, str], kind: str) -> str:
    c = Client(port, "_collector-probe", "_collector", creds["_collector"])
    try:
        return c.publish(topic_for(A, kind), b"x")
    finally:
        c.close()


@pytest.mark.timeout(90)
def test_tls_client_certificates_are_the_identity(
    mosquitto_binary: str, tmp_path: Path, figures: Callable[..., None]
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    pki = tmp_path / "pki"
    for step in (["ca"], ["server", "localhost", "127.0.0.1"], ["client", A], ["client", B]):
        subprocess.run(["sh", str(MAKE_CA), str(pki), *step], check=True, capture_output=True, timeout=60)
    port, local = free_port(), free_port()
    out = tmp_path / "broker"
    argv = ["broker-config", "--out", str(out), "--gateway", A, "--gateway", B]
    argv += ["--listen", f"127.0.0.1:{port}", "--collector-listen", f"127.0.0.1:{local}"]
    argv += [
        "--cafile",
        str(pki / "ca.crt"),
        "--certfile",
        str(pki / "server.crt"),
        "--keyfile",
        str(pki / "server.key"),
    ]
    argv += ["--run-as", getpass.getuser(), "--log-file", str(tmp_path / "mosquitto.log")]
    assert collector_cli(argv) == 0
    creds = _credentials(out)
    assert set(creds) == {"_collector"}  # gateways need no password: the certificate is the identity
    broker = BrokerProc(mosquitto_binary, out / "mosquitto.conf", port)
    collector = CollectorProc(
        tmp_path, f"mqtt://127.0.0.1:{local}", mqtt_username="_collector", mqtt_password=creds["_collector"]
    )
    clients: list[Client] = []
    try:
        collector.start()
        tls_a = {"ca": str(pki / "ca.crt"), "cert": str(pki / f"{A}.crt"), "key": str(pki / f"{A}.key")}
        # A's certificate, but B's username and client id: the certificate decides
        a_as_b = Client(port, B, B, "anything", **tls_a)
        clients.append(a_as_b)
        no_cert = Client(port, "nocert", A, "x", ca=str(pki / "ca.crt"))
        clients.append(no_cert)
        own = a_as_b.publish(topic_for(A, "report"), encode(report(A, seq=1)))
        other = a_as_b.publish(topic_for(B, "report"), encode(report(B, seq=1)))
        agent = PahoTransport(
            f"mqtts://127.0.0.1:{port}",
            B,
            ca_file=tls_a["ca"],
            cert_file=str(pki / f"{B}.crt"),
            key_file=str(pki / f"{B}.key"),
        )
        agent.start(lambda t, p: None, lambda: None, lambda r: None)
        wait_until(lambda: agent.connected, 10, "agent over TLS")
        agent.publish(topic_for(B, "report"), encode(report(B, seq=2)))
        wait_until(lambda: stored_count(collector.db) >= 2, 20, "reports over TLS stored")
        agent.stop()
        keys = read_store(collector.db).keys
        figures(
            a_cert_as_b_own_topic=own,
            a_cert_as_b_b_topic=other,
            without_cert="refused" if not no_cert.ok else "accepted",
            stored=sorted(keys),
        )
        assert a_as_b.ok and own == "allowed" and other == "Not authorized"
        assert not no_cert.ok
        assert keys == {(A, 7, 1), (B, 7, 2)}
    finally:
        for c in clients:
            c.close()
        collector.stop()
        broker.stop()
