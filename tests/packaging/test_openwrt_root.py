"""The built package runs on exactly its declared OpenWrt dependencies, against a real broker.

A root holds the stdlib files of python3-base, python3-light and the declared python3-* packages (with
their own dependencies: python3-email under python3-urllib, python3-uuid under python3-paho-mqtt), split as
the OpenWrt packages feed splits them (``openwrt_stdlib.py``), paho and msgpack in its site-packages, and the
.ipk's files installed over it. This machine's CPython 3.11 runs with PYTHONHOME at that root, through the
package's own ``/usr/bin/homescope-agent``: a module of an undeclared package is simply not there.

On main the MQTT thread died here on ``LookupError: unknown encoding: idna`` (no python3-codecs) while the
agent kept spooling with exit code 0, and DPI failed on ``No module named 'ctypes'``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from protocol.codec import encode, envelope, open_envelope
from protocol.topics import Kind, topic_for
from tests.broker import Broker
from tests.packaging.conftest import Built
from tests.packaging.openwrt_feed import dependency_names
from tests.packaging.openwrt_stdlib import PY, StdlibRoot, build_root

SITE_PACKAGES = Path(mqtt.__file__).resolve().parents[2]
PYTHON = Path(sys.base_prefix) / "bin" / PY  # the interpreter itself: python3-base's binary + libpython3


@pytest.fixture(scope="module")
def root(built: Built, tmp_path_factory: pytest.TempPathFactory) -> StdlibRoot:
    """The declared packages' files, then the .ipk's data files installed over them."""
    [package] = built.source.packages
    stdlib_root = build_root(
        tmp_path_factory.mktemp("openwrt-root"), dependency_names(package.depends), SITE_PACKAGES
    )
    for path in built.idir.rglob("*"):
        if "CONTROL" in path.relative_to(built.idir).parts or path.is_dir():
            continue
        target = stdlib_root.root / path.relative_to(built.idir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return stdlib_root


def _entry_point(root: StdlibRoot) -> Path:
    """The package's /usr/bin/homescope-agent with its absolute paths moved into the root."""
    text = (root.root / "usr/bin/homescope-agent").read_text()
    assert "PYTHONPATH=/usr/lib/homescope" in text and "exec python3 " in text
    text = text.replace("/usr/lib/homescope", str(root.root / "usr/lib/homescope"))
    wrapper = root.root / "homescope-agent.sh"
    wrapper.write_text(text.replace("exec python3 ", f"exec {PYTHON} "))
    return wrapper


def _env(root: StdlibRoot) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "HOME")}
    return {**keep, "PYTHONHOME": str(root.home), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def test_the_root_lacks_what_was_not_declared(root: StdlibRoot) -> None:
    """The setup is what a router has: no unicodedata (python3-codecs), no ctypes, no asyncio."""
    probe = (
        "import importlib.util as u, sys\n"
        "import agent.cli\n"
        "print(sys.prefix, agent.cli.__file__)\n"
        "print(*[m for m in ('unicodedata', 'ctypes', 'asyncio', 'decimal', 'paho', 'msgpack', 'ssl', 'sqlite3')"
        " if u.find_spec(m) is not None])\n"
    )
    out = subprocess.run(
        [str(PYTHON), "-c", probe],
        env={**_env(root), "PYTHONPATH": str(root.root / "usr/lib/homescope")},
        cwd=root.root,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    assert out[0] == f"{root.home} {root.root}/usr/lib/homescope/agent/cli.pyc"
    assert out[1].split() == ["paho", "msgpack", "ssl", "sqlite3"]


@dataclass
class Collector:
    """Stands in for the collector: acks every report and event it is sent, as ingest does once stored."""

    url: str
    gateway_id: str
    seen: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, epoch, seq)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"collector-{self.gateway_id}")
        self.client.on_message = self._message
        host, port = self.url.removeprefix("mqtt://").split(":")
        self.client.connect(host, int(port))
        for kind in (Kind.REPORT, Kind.EVENT):
            self.client.subscribe(topic_for(self.gateway_id, kind), qos=1)
        self.client.loop_start()

    def _message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        body = open_envelope(bytes(message.payload), message.topic)
        with self.lock:
            self.seen.append((body["kind"], body["epoch"], body["seq"]))
        ack = envelope(
            Kind.ACK, self.gateway_id, epoch=body["epoch"], ranges=[[body["seq"], body["seq"]]], sent_at=0
        )
        client.publish(topic_for(self.gateway_id, Kind.ACK), encode(ack), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def collector(broker: Broker) -> Iterator[Collector]:
    c = Collector(broker.url, "gw-owrt-root")
    yield c
    c.close()


def _config(path: Path, url: str, spool: Path) -> Path:
    dpi = "lo" if os.geteuid() == 0 else ""  # AF_PACKET needs root (CAP_NET_RAW)
    path.write_text(
        "config agent 'main'\n"
        "\toption enabled '1'\n"
        "\toption gateway_id 'gw-owrt-root'\n"
        f"\toption mqtt_url '{url}'\n"
        "\toption interval_s '2'\n"
        "\toption publish_spread_s '0'\n"
        "\toption startup_jitter_s '0'\n"
        "\toption resend_after_s '1'\n"
        f"\toption spool_path '{spool}'\n"
        f"\toption dpi_interface '{dpi}'\n"
        "\nconfig service 'service'\n\toption wait_for_time_s '0'\n"
    )
    return path


def _run(root: StdlibRoot, config: Path, windows: int) -> subprocess.CompletedProcess[str]:
    argv = [
        "sh",
        str(_entry_point(root)),
        "run",
        "--config",
        str(config),
        "--windows",
        str(windows),
        "--no-jitter",
    ]
    # cwd: python -c puts the working directory first on sys.path (procd starts services in /)
    return subprocess.run(
        argv, env=_env(root), cwd=root.root, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.timeout(90)
def test_reports_are_published_and_acknowledged(
    root: StdlibRoot, broker: Broker, collector: Collector, tmp_path: Path
) -> None:
    config = _config(tmp_path / "homescope", broker.url, tmp_path / "outbox.db")
    first = _run(root, config, windows=3)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "the idna codec is missing" in first.stderr  # really without python3-codecs, and it connected
    assert "Traceback" not in first.stderr and "ctypes" not in first.stderr, first.stderr[-3000:]
    if os.geteuid() == 0:
        assert "DPI on lo" in first.stderr
    with collector.lock:
        reports = {(epoch, seq) for kind, epoch, seq in collector.seen if kind == "report"}
        before = len(collector.seen)
    assert len(reports) >= 3
    # Run again on the same spool: acknowledged records are gone from it, so none is sent a second time.
    # (The newest may have been acked after the first run stopped waiting for it: it may come again.)
    second = _run(root, config, windows=1)
    assert second.returncode == 0, second.stderr[-3000:]
    with collector.lock:
        again = {(epoch, seq) for kind, epoch, seq in collector.seen[before:]}
    assert again - reports, "the second run published nothing new"
    assert not again & (reports - {max(reports)})


@pytest.mark.timeout(90)
def test_a_dead_mqtt_thread_stops_the_agent_with_the_reason(root: StdlibRoot, tmp_path: Path) -> None:
    """A host label over 63 characters fails the idna encoding (a UnicodeError, real codec or not), which
    paho does not retry: the agent exits 1 and says why instead of spooling in silence with exit code 0."""
    config = _config(tmp_path / "homescope", f"mqtt://{'b' * 64}.example:1883", tmp_path / "outbox.db")
    result = _run(root, config, windows=30)
    assert result.returncode == 1, result.stderr[-3000:]
    assert re.search(r"CRITICAL .*network thread died .*longer than 63", result.stderr), result.stderr[-3000:]
    assert "the MQTT connection cannot work" in result.stderr
