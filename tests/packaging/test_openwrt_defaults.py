"""The uci-defaults script upgrades an installation of the old package: spool off /etc, example not enabled.

It runs in a POSIX shell with ``uci`` replaced by a small stand-in over a key=value file (the options the
script reads and writes), and the files under a test root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.packaging.conftest import FEED

SCRIPT = FEED / "homescope-agent" / "files" / "homescope.uci-defaults"
UCI = """#!{python}
# uci -q get|set|delete|commit over the key=value lines of $UCI_STATE
import os, sys
path = os.environ["UCI_STATE"]
state = dict(line.rstrip("\\n").split("=", 1) for line in open(path) if "=" in line)
args = [a for a in sys.argv[1:] if a != "-q"]
if args[0] == "get":
    if args[1] not in state:
        sys.exit(1)
    print(state[args[1]])
elif args[0] == "set":
    key, value = args[1].split("=", 1)
    state[key] = value
elif args[0] == "delete":
    state.pop(args[1], None)
with open(path, "w") as out:
    out.writelines(f"{{k}}={{v}}\\n" for k, v in state.items())
"""


def _run(tmp_path: Path, state: dict[str, str]) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "uci").write_text(UCI.format(python=sys.executable))
    (bin_dir / "uci").chmod(0o755)
    state_file = tmp_path / "uci-state"
    state_file.write_text("".join(f"{k}={v}\n" for k, v in state.items()))
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "UCI_STATE": str(state_file),
        "HOMESCOPE_ROOT": str(tmp_path / "root"),
    }
    subprocess.run(["sh", str(SCRIPT)], env=env, check=True, timeout=20)
    return dict(line.split("=", 1) for line in state_file.read_text().splitlines())


def test_an_old_spool_under_etc_moves_to_the_flash_spool_directory(tmp_path: Path) -> None:
    old = tmp_path / "root" / "etc" / "homescope"
    old.mkdir(parents=True)
    (old / "outbox.db").write_bytes(b"SQLite format 3\0 unsent reports")
    state = _run(
        tmp_path,
        {
            "homescope.main": "agent",
            "homescope.main.enabled": "1",
            "homescope.main.mqtt_url": "mqtts://collector.operator.test:8883",
            "homescope.main.spool_path": "/etc/homescope/outbox.db",
        },
    )
    assert not (old / "outbox.db").exists()
    assert (tmp_path / "root" / "srv" / "homescope" / "outbox.db").read_bytes().endswith(b"unsent reports")
    assert "homescope.main.spool_path" not in state  # the init script chooses now
    assert state["homescope.main.enabled"] == "1"  # a configured agent stays on
    assert state["homescope.service.wait_for_time_s"] == "600"


def test_the_example_broker_is_never_left_enabled(tmp_path: Path) -> None:
    state = _run(
        tmp_path,
        {"homescope.main.enabled": "1", "homescope.main.mqtt_url": "mqtts://collector.example.net:8883"},
    )
    assert state["homescope.main.enabled"] == "0"
