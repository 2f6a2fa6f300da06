"""The demo's campaign: once the homes are evaluated, target every flagged home with a mesh
campaign (10% control group), let the collector deliver it to a file drop, let the emulated
households answer, and import their CRM outcomes, so /marketing shows a campaign with results;
then archive a report of the last week whose campaigns section shows it (/reports).

    python scripts/demo_campaign.py --api http://127.0.0.1:8080 --token T --db sqlite:///.demo/homescope.db \
        --drop .demo/drop --out .demo
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.response import outcome_rows, respond  # noqa: E402

FLAGS = ["mesh_or_fttr", "plan_upgrade", "video_package", "acceleration_package", "traffic_package"]


def call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        args.api + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("--api", "--token", "--db", "--drop", "--out"):
        parser.add_argument(name, required=True)
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for evaluated flags")
    parser.add_argument("--config", help="profiles config for the report with the campaign (none: no report)")
    args = parser.parse_args()
    definition = {"any": [{"flag": f} for f in FLAGS]}
    deadline = time.monotonic() + args.wait
    # wait for flagged homes, then until their number holds across an evaluation (every 30 s in the
    # demo), so the campaign targets every home the back-filled week flags, not the first few
    size, steady_since = 0, time.monotonic()
    while True:
        now_size = call(args, "POST", "/api/v1/segments/preview", {"definition": definition})["size"]
        if now_size != size:
            size, steady_since = now_size, time.monotonic()
        if size >= 3 and time.monotonic() - steady_since > 40:
            break
        if time.monotonic() > deadline:
            if size >= 3:
                break
            print("demo campaign: no flagged homes yet", file=sys.stderr)
            return 1
        time.sleep(5)
    audience = call(
        args, "POST", "/api/v1/audiences", {"name": "demo: every flagged home", "definition": definition}
    )
    campaign = call(args, "POST", "/api/v1/campaigns", {
        "name": "demo: mesh for flagged homes", "audience_id": audience["id"], "offer_id": "mesh", "channel": "sms",
        "template": "Hello {name}, {offer} for {price} a month: we measured {evidence}."})  # fmt: skip
    call(args, "POST", f"/api/v1/campaigns/{campaign['id']}/launch")
    members = call(args, "GET", f"/api/v1/audiences/{audience['id']}")["members"]
    time.sleep(3)  # the collector's delivery task hands the messages to the drop
    reached = set()
    for f in Path(args.drop).glob("*.csv"):
        with open(f, encoding="utf-8") as fh:
            reached |= {r["subscriber_id"] for r in csv.DictReader(fh)}
    answers = respond(
        [(m["gateway_id"], m["subscriber_id"]) for m in members], "mesh", reached, time.time(), 600.0, 1
    )
    out = Path(args.out) / "outcomes.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["subscriber_id", "kind", "offer_id", "at", "plan_down_mbps"])
        writer.writeheader()
        writer.writerows(outcome_rows(answers, {}))
    subprocess.run([sys.executable, "-m", "collector.cli", "import-outcomes", str(out), "--db", args.db], cwd=ROOT,
                   check=False)  # fmt: skip
    res = call(args, "GET", f"/api/v1/campaigns/{campaign['id']}/results")
    u = res["uplift"]
    print(f"demo campaign: {args.api}/marketing/campaigns/{campaign['id']}")
    print(f"  treated {res['treated']} (contacted {res['contacted']}), control {res['control']} (contacted"
          f" {res['control_contacted']}); converted {res['converted']}; uplift {u['uplift']} (95% CI {u['ci95']});"
          f" verified by the network {res['verified_conversions']}")  # fmt: skip
    if args.config:  # the report archive then shows the campaign in its campaigns section
        today = datetime.now(UTC).date()
        subprocess.run([sys.executable, "-m", "collector.cli", "report", "--db", args.db, "--config", args.config,
                        "--archive", "--out", str(Path(args.out) / "report-campaign"), "--from",
                        (today - timedelta(days=6)).isoformat(), "--to", today.isoformat()], cwd=ROOT, check=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
