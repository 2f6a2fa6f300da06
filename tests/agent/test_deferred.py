"""paho's unused imports stay out of the agent's memory, and still work if something uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
