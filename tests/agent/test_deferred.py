"""paho's unused imports stay out of the agent's memory, and still work if something uses them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import agent.publisher.paho_transport
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("email", "http") or m == "_uuid")
print(",".join(heavy))
import uuid, urllib.request
assert len(str(uuid.uuid4())) == 36 and callable(urllib.request.getproxies)
assert not sys.modules["uuid"].__doc__.startswith("stand-in")  # the real one replaced the stand-in
print("loaded")
"""


def test_paho_is_imported_without_urllib_request_email_or_uuid_and_they_load_on_use() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    heavy, loaded = done.stdout.splitlines()
    assert heavy == "", f"imported by the transport although never used: {heavy}"
    assert loaded == "loaded"


OPENSSL_PROBE = """
import sys
sys.modules.update(msgspec=None, isal=None)
import agent.cli
from agent.publisher.outbox import Outbox
from agent.publisher.paho_transport import PahoTransport
import paho.mqtt.client as paho_client
Outbox(":memory:")
PahoTransport(sys.argv[1], "gw-probe", ca_file=sys.argv[2])
real = lambda m: m in sys.modules and "__file__" in vars(sys.modules[m])
print(",".join(m for m in ("ssl", "_ssl", "hashlib", "_hashlib", "hmac", "secrets") if real(m)))
print(vars(paho_client.ssl)["SSLWantReadError"].__module__ == "ssl")
"""


@pytest.mark.parametrize(
    ("url", "loaded", "refreshed"),
    [("mqtt://127.0.0.1:1883", "", "False"), ("mqtts://127.0.0.1:8883", "ssl,_ssl", "True")],
)
def test_openssl_is_loaded_only_for_a_tls_broker(
    url: str, loaded: str, refreshed: str, tmp_path: Path
) -> None:
    """ssl and hashlib initialise OpenSSL (~4.5 MiB on a 32-bit gateway): a plain broker needs neither.

    For a TLS one, paho (which bound the stand-in at its import) then sees ssl's real exception classes.
    """
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    subprocess.run(
        ["sh", str(ROOT / "packaging/mosquitto/make-ca.sh"), str(tmp_path), "ca"], check=True, timeout=60
    )
    ca = tmp_path / "ca.crt"
    done = subprocess.run(
        [sys.executable, "-c", OPENSSL_PROBE, url, str(ca)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.splitlines() == [loaded, refreshed]


LIGHT_PROBE = """
import os, sys
sys.modules.update(msgspec=None, isal=None)
import agent.cli
from agent.publisher.outbox import Outbox
import agent.publisher.paho_transport
Outbox(":memory:")
# the module's own source (a stand-in has no file, and vars() does not wake it; datetime answered by
# _datetime is a built-in or a .so)
real = lambda m: str(vars(sys.modules.get(m, sys)).get("__file__", "")).endswith((m + ".py", m + ".pyc"))
print(",".join(m for m in ("platform", "ipaddress", "datetime") if real(m)))
import datetime, msgpack, platform
from agent.config import AgentConfig
config = AgentConfig(gateway_id="gw-probe", mqtt_url="mqtts://[fd00::1]:8883")  # a bracketed host: ipaddress
assert config.mqtt_url.endswith("[fd00::1]:8883")
from urllib.parse import urlsplit
assert urlsplit("mqtts://[fd00::1]:8883").hostname == "fd00::1"
stamp = msgpack.Timestamp(1_795_437_000).to_datetime()  # msgpack's datetime use, through _datetime
assert stamp == datetime.datetime(2026, 11, 23, 12, 30, tzinfo=datetime.timezone.utc), stamp
assert platform.system() == os.uname().sysname and platform.machine()
print(",".join(m for m in ("platform", "ipaddress") if real(m)))
"""


def _bare(probe: str) -> list[str]:
    """``probe``'s output lines from a fresh interpreter that has imported nothing of its own.

    Without ``site`` (-S): this venv's ``.pth`` files import ``urllib.parse`` before any code runs, which a
    gateway's interpreter does not; paho and msgpack come from site-packages on PYTHONPATH instead.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])}
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return done.stdout.splitlines()


def test_platform_ipaddress_and_datetime_py_stay_out_and_work_when_used() -> None:
    """The daemon loop uses none of them (~0.5 MiB on a 32-bit gateway, docs/gateway.md "Footprint").

    The daemon's entry point (``agent.cli``) sets the stand-ins up before its imports.
    """
    assert _bare(LIGHT_PROBE) == ["", "platform,ipaddress"]


LIBRARY_PROBE = """
import sys
sys.modules.update(msgspec=None, isal=None)
import agent, agent.runner, agent.publisher.paho_transport
from agent.publisher.outbox import Outbox
Outbox(":memory:")
import datetime, ipaddress
print(sys.modules["datetime"].__name__, sys.modules["datetime"].__file__.rsplit("/", 1)[-1])
print(ipaddress.__doc__.startswith("stand-in"), ipaddress.__file__.rsplit("/", 1)[-1])
"""


def test_the_agent_as_a_library_leaves_datetime_and_ipaddress_the_real_modules() -> None:
    """Only the daemon swaps them: ``import agent`` in the emulator, a test or the collector's tests does not.

    The stand-ins are the daemon's memory saving, not a change every importer of the package should get.
    """
    assert _bare(LIBRARY_PROBE) == ["datetime datetime.py", "False ipaddress.py"]
