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
    files: list[str]  # chown/chgrp/chmod calls

    def has(self, name: str) -> bool:
        return any(call[:2] == ["procd_set_param", name] for call in self.procd)

    def param(self, name: str) -> list[str]:
        return next(call[2:] for call in self.procd if call[:2] == ["procd_set_param", name])


def _start(
    tmp_path: Path,
    config: dict[str, str],
    free_kib: dict[str, int],
    ntp_enabled: str = "1",
    *,
    ujail: bool = False,
    user: bool = True,
    uci: dict[str, str] | None = None,
) -> Started:
    """Run start_service; ``ujail``: /sbin/ujail is installed; ``user``: /etc/passwd has homescope;
    ``uci``: what ``uci -q get homescope.<key>`` answers (an absent key exits 1, as uci does)."""
    cases = "".join(f"\t\t{shlex.quote(k)}) __v={shlex.quote(v)} ;;\n" for k, v in config.items())
    df_cases = "".join(f"\t\t{shlex.quote(str(tmp_path / d))}) f={kib} ;;\n" for d, kib in free_kib.items())
    record = tmp_path / "record"
    uci_cases = "".join(
        f"\t\t{shlex.quote('-q get homescope.' + k)}) echo {shlex.quote(v)} ;;\n"
        for k, v in (uci or {}).items()
    )
    ujail_path = tmp_path / "ujail"
    if ujail:
        ujail_path.write_text("#!/bin/sh\n")
        ujail_path.chmod(0o755)
    passwd = tmp_path / "passwd"
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/ash\n"
        + ("homescope:x:32768:32768:homescope:/var/run/homescope:/bin/false\n" if user else "")
    )
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
procd_add_jail() {{ printf '%s\\037' procd_add_jail "$@" >> {record}; echo >> {record}; }}
logger() {{ echo "logger $*" >> {record}.log; }}
uci() {{
	case "$*" in
		"-q get system.ntp.enabled") echo {ntp_enabled} ;;
{uci_cases}\t\t*) return 1 ;;
	esac
}}
chown() {{ echo "chown $*" >> {record}.files; }}
chgrp() {{ echo "chgrp $*" >> {record}.files; }}
chmod() {{ echo "chmod $*" >> {record}.files; }}
df() {{
	local f=0
	case "$2" in
{df_cases}\tesac
	printf 'Filesystem 1K-blocks Used Available Use%% Mounted\\nfs 1 1 %s 1%% /\\n' "$f"
}}
. {INIT}
SPOOL_FLASH={tmp_path / "srv"}
SPOOL_RAM={tmp_path / "tmp"}
UJAIL={ujail_path}
PASSWD={passwd}
CONFIG={tmp_path / "homescope.conf"}
start_service
"""
    result = subprocess.run(["sh", "-c", harness], capture_output=True, text=True, timeout=20, check=False)
    assert not result.stderr, result.stderr
    lines = record.read_text().splitlines() if record.exists() else []
    procd = [line.split("\x1f")[:-1] if "\x1f" in line else [line] for line in lines]
    log = (tmp_path / "record.log").read_text() if (tmp_path / "record.log").exists() else ""
    files = (
        (tmp_path / "record.files").read_text().splitlines() if (tmp_path / "record.files").exists() else []
    )
    return Started(result.returncode, procd, log, files)


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


def test_with_ujail_the_agent_runs_as_its_user_with_only_the_capabilities_it_needs(tmp_path: Path) -> None:
    (tmp_path / "homescope.conf").write_text("config agent 'main'\n")
    started = _start(tmp_path, GOOD, {"srv": 100 * 1024}, ujail=True)
    assert ["procd_add_jail", "homescope"] in started.procd  # no mounts: no namespaces, as wpad's jail
    assert started.param("user") == ["homescope"] and started.param("group") == ["homescope"]
    assert started.param("no_new_privs") == ["1"]
    # DPI is on by default (dpi_interface br-lan): its conntrack reads need CAP_DAC_READ_SEARCH too
    assert started.param("capabilities") == ["/etc/capabilities/homescope-dpi.json"]
    spool = f"{tmp_path}/srv"
    assert f"chown -R homescope:homescope {spool}" in started.files and f"chmod 0700 {spool}" in started.files
    # the UCI file (root 0600 after every uci commit) is readable by the agent's group, by no one else
    conf = f"{tmp_path}/homescope.conf"
    assert started.files[-2:] == [f"chgrp homescope {conf}", f"chmod g+r,o-rwx {conf}"]
    assert not started.log


def test_a_spool_path_in_a_shared_directory_is_never_taken_over(tmp_path: Path) -> None:
    config = {**GOOD, "main.spool_path": f"{tmp_path}/shared/outbox.db"}
    started = _start(tmp_path, config, {"shared": 100 * 1024}, ujail=True)
    assert not [f for f in started.files if f.startswith(("chown -R", "chmod 0700"))]
    assert started.param("user") == ["homescope"]  # SQLite fails loudly if it cannot write there
    assert f"{tmp_path}/shared must be writable by homescope" in started.log


def test_without_dpi_only_ping_s_raw_socket_is_granted(tmp_path: Path) -> None:
    started = _start(tmp_path, GOOD, {"srv": 100 * 1024}, ujail=True, uci={"main.dpi_interface": ""})
    assert started.param("capabilities") == ["/etc/capabilities/homescope.json"]


def test_without_ujail_or_without_the_user_it_runs_as_root_and_says_so(tmp_path: Path) -> None:
    for ujail, user in ((False, True), (True, False)):
        started = _start(tmp_path, GOOD, {"srv": 100 * 1024}, ujail=ujail, user=user)
        assert started.code == 0 and started.param("command")[2] == "/usr/bin/homescope-agent"
        assert not started.has("user") and not started.has("capabilities") and not started.files
        assert "running as root: install procd-ujail" in started.log
        (tmp_path / "record").unlink()
        (tmp_path / "record.log").unlink()
