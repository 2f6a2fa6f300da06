"""The procd init script's decisions: when it starts the agent, with what, and where the spool goes.

``start_service`` of ``files/homescope.init`` runs in a POSIX shell (dash here, BusyBox ash on the router)
with the functions OpenWrt provides replaced by recorders: ``config_load``/``config_get``/``config_get_bool``
(``/lib/functions.sh``) answer from a dict, ``procd_*`` (``/lib/functions/procd.sh``) and ``logger`` write
what they are given, ``uci`` answers ``system.ntp.enabled``, ``df`` reports the free space a test chooses
for each directory. The spool directories point into the test's own directory.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.packaging.conftest import FEED

INIT = FEED / "homescope-agent" / "files" / "homescope.init"
GOOD = {
    "main.enabled": "1",
    "main.mqtt_url": "mqtts://collector.operator.test:8883",
    "main.mqtt_ca_file": "",
    "main.spool_quota_bytes": "2097152",
    "service.wait_for_time_s": "600",
}


@dataclass
class Started:
    code: int
    procd: list[list[str]]  # every procd_* call with its arguments
    log: str

    def param(self, name: str) -> list[str]:
        return next(call[2:] for call in self.procd if call[:2] == ["procd_set_param", name])


def _start(
    tmp_path: Path,
    config: dict[str, str],
    free_kib: dict[str, int],
    ntp_enabled: str = "1",
) -> Started:
    cases = "".join(f"\t\t{shlex.quote(k)}) __v={shlex.quote(v)} ;;\n" for k, v in config.items())
    df_cases = "".join(f"\t\t{shlex.quote(str(tmp_path / d))}) f={kib} ;;\n" for d, kib in free_kib.items())
    record = tmp_path / "record"
    harness = f"""
config_load() {{ :; }}
config_get() {{
	local __v
	case "$2.$3" in
{cases}\t\t*) __v="$4" ;;
	esac
	eval "$1=\\$__v"
}}
config_get_bool() {{
	config_get "$@"
	eval "case \\"\\$$1\\" in 1|on|true|yes|enabled) $1=1 ;; *) $1=0 ;; esac"
}}
procd_open_instance() {{ echo "procd_open_instance" >> {record}; }}
procd_set_param() {{ printf '%s\\037' procd_set_param "$@" >> {record}; echo >> {record}; }}
procd_close_instance() {{ echo "procd_close_instance" >> {record}; }}
logger() {{ echo "logger $*" >> {record}.log; }}
uci() {{ [ "$*" = "-q get system.ntp.enabled" ] && echo {ntp_enabled}; }}
df() {{
	local f=0
	case "$2" in
{df_cases}\tesac
	printf 'Filesystem 1K-blocks Used Available Use%% Mounted\\nfs 1 1 %s 1%% /\\n' "$f"
}}
. {INIT}
SPOOL_FLASH={tmp_path / "srv"}
SPOOL_RAM={tmp_path / "tmp"}
start_service
"""
    result = subprocess.run(["sh", "-c", harness], capture_output=True, text=True, timeout=20, check=False)
    assert not result.stderr, result.stderr
    lines = record.read_text().splitlines() if record.exists() else []
    procd = [line.split("\x1f")[:-1] if "\x1f" in line else [line] for line in lines]
    log = (tmp_path / "record.log").read_text() if (tmp_path / "record.log").exists() else ""
    return Started(result.returncode, procd, log)


def test_disabled_starts_nothing(tmp_path: Path) -> None:
    """As installed: opkg's postinst runs start, and nothing may connect yet."""
    started = _start(tmp_path, {**GOOD, "main.enabled": "0"}, {"srv": 10**6})
    assert started.code == 0 and started.procd == []
    assert "disabled" in started.log


def test_the_example_broker_or_a_missing_ca_is_refused(tmp_path: Path) -> None:
    example = _start(
        tmp_path, {**GOOD, "main.mqtt_url": "mqtts://collector.example.net:8883"}, {"srv": 10**6}
    )
    assert example.code != 0 and example.procd == [] and "still" in example.log
    ca = tmp_path / "ca.crt"
    no_ca = _start(tmp_path, {**GOOD, "main.mqtt_ca_file": str(ca)}, {"srv": 10**6})
    assert no_ca.code != 0 and no_ca.procd == [] and f"{ca} is missing" in no_ca.log
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _start(tmp_path, {**GOOD, "main.mqtt_ca_file": str(ca)}, {"srv": 10**6}).procd


def test_a_configured_agent_runs_niced_with_respawn_limits_after_the_clock(tmp_path: Path) -> None:
    started = _start(tmp_path, GOOD, {"srv": 100 * 1024})  # 100 MiB free on flash
    assert started.code == 0
    command = started.param("command")
    assert command[:3] == ["/usr/libexec/homescope/wait-for-time", "600", "/usr/bin/homescope-agent"]
    assert command[3:] == ["run", "--config", "/etc/config/homescope", "--spool", f"{tmp_path}/srv/outbox.db"]
    assert started.param("env") == ["HOMESCOPE_SPOOL_QUOTA_BYTES=2097152"]
    assert started.param("respawn") == ["3600", "30", "5"]
    assert started.param("nice") == ["10"]
    assert started.param("term_timeout") == ["15"]
    assert started.param("file") == ["/etc/config/homescope"]


def test_the_spool_never_takes_more_than_a_quarter_of_the_free_flash(tmp_path: Path) -> None:
    started = _start(tmp_path, GOOD, {"srv": 4096})  # 4 MiB free: 1 MiB for the spool
    assert started.param("env") == [f"HOMESCOPE_SPOOL_QUOTA_BYTES={1024 * 1024}"]
    assert started.param("command")[-1] == f"{tmp_path}/srv/outbox.db"


def test_nearly_full_flash_spools_in_ram_and_says_so(tmp_path: Path) -> None:
    started = _start(tmp_path, GOOD, {"srv": 512, "tmp": 60 * 1024})  # 128 KiB to give on flash
    assert started.param("command")[-1] == f"{tmp_path}/tmp/outbox.db"
    assert started.param("env") == ["HOMESCOPE_SPOOL_QUOTA_BYTES=2097152"]
    assert "spooling in RAM" in started.log


def test_no_wait_for_the_clock_when_ntp_is_off(tmp_path: Path) -> None:
    started = _start(tmp_path, GOOD, {"srv": 100 * 1024}, ntp_enabled="0")
    assert started.param("command")[1] == "0"
