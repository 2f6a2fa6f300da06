"""The closed marketing loop, measured: emulator -> Mosquitto -> collector -> segment ->
campaign with a control group -> emulated responses -> outcome import -> results.

    python bench/campaign.py --homes 5000 --json
    python bench/campaign.py --scale 100000 --json     # the API's latencies at 100k homes

Loop: a private Mosquitto and a ``homescope-collector serve`` (SQLite) are started; a
persona fleet back-fills ``--days`` of 15-minute windows through the agent's outbox and
publisher; the CRM export is imported and every home evaluated; then, over the collector's
HTTP API, per offer type an audience is frozen from its flag and a campaign launched with a
random control group (``--control``, default 10%, seeded); the collector's delivery task
hands the treated members' messages to a file drop under the contact policy. The emulator
reads what was delivered and answers from each household's hidden propensity; the homes that
bought back-fill the day of the order as they now are (new mesh nodes, more video, a faster
path; emulator.response.after_purchase), the plan upgrades are re-imported
from the CRM; ``homescope-collector import-outcomes`` reads the CRM's outcome file; the
results API gives each campaign's uplift and 95% interval (Newcombe).

The true uplift is what the hidden propensities predict for these arms: the mean over the
treatment arm of each home's chance given whether it was reached, minus the control arm's
mean base chance; not the sample's own difference. The control group and the policy are
checked independently, from the file drop: ``control_contacted`` counts delivered messages to
control members, ``policy_violations`` subscribers over the cap, contacted twice for an offer
or after opting out. Quiet hours are off in the bench's catalogue (the loop must not wait
for 09:00); the tests cover them.

Scale: ``--sample`` homes are simulated in-process and evaluated, their CRM rows, profiles and
results are copied to ``--scale`` gateway ids, and the same API calls are timed.

The last line is one JSON object (``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.crm import parse_subscribers  # noqa: E402
from collector.marketing.catalogue import Policy  # noqa: E402
from collector.profiles.config import load_config  # noqa: E402
from collector.profiles.evaluate import evaluate  # noqa: E402
from collector.store import open_store  # noqa: E402
from collector.store.base import drain_folds, insights  # noqa: E402
from emulator.clock import SimClock  # noqa: E402
from emulator.fleet import Fleet  # noqa: E402
from emulator.personas import parse_mix  # noqa: E402
from emulator.response import after_purchase, outcome_rows, propensity, respond  # noqa: E402
from emulator.response import write_truth as write_response_truth  # noqa: E402
from emulator.truth import crm_rows, fleet_specs, write_crm, write_truth  # noqa: E402
from tests.broker import Broker, free_port  # noqa: E402

#: Offer -> the flag whose homes the campaign targets.
OFFERS = {"mesh": "mesh_or_fttr", "plan_upgrade": "plan_upgrade", "video_package": "video_package",
          "acceleration": "acceleration_package", "traffic_package": "traffic_package"}  # fmt: skip
TOKEN = "bench-token-for-measuring-the-loop"  # >= 24 characters (token policy)
DAY = 86400
NO_SCHEDULE = "[schedule]\nevaluate_every_s = 0\n"


_T0 = time.monotonic()


def _log(text: str) -> None:
    """Progress, always on stderr (with --json too: stdout keeps only the JSON line)."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {text}", file=sys.stderr, flush=True)


class Api:
    """The collector's HTTP API with a bearer token; every call timed."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[float, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})  # fmt: skip
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=600) as r:
                text = r.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
        return (time.perf_counter() - t0) * 1000.0, json.loads(text)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2) if ordered else 0.0


def _wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # /healthz shows the broker connection to a signed-in client only
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/healthz", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            with urllib.request.urlopen(request, timeout=1) as r:
                if json.loads(r.read()).get("mqtt_connected"):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the collector did not connect to the broker in time")


def _catalogue(work: Path) -> Path:
    """The shipped catalogue with quiet hours off (start == end)."""
    text = (ROOT / "collector/marketing/offers.toml").read_text(encoding="utf-8")
    text = text.replace("quiet_start_hour = 21", "quiet_start_hour = 0").replace(
        "quiet_end_hour = 9", "quiet_end_hour = 0"
    )
    path = work / "offers.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Collector:
    """A ``homescope-collector serve`` process on a SQLite file."""

    def __init__(self, work: Path, db: Path, mqtt: str, offers: Path) -> None:
        self.port = free_port()
        config = work / "profiles.toml"
        config.write_text(NO_SCHEDULE)
        env = {**os.environ, "HOMESCOPE_USERS": "bench:only-for-measuring-42", "HOMESCOPE_API_TOKENS": TOKEN,
               "HOMESCOPE_PROFILES_CONFIG": str(config), "HOMESCOPE_BATCH_MAX": "500",
               "HOMESCOPE_OFFERS": str(offers), "HOMESCOPE_SENDER": f"file:{work / 'drop'}",
               "HOMESCOPE_DELIVER_EVERY_S": "0.5"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "serve", "--db", f"sqlite:///{db}", "--mqtt", mqtt,
             "--http", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "collector.log", "a"),  # noqa: SIM115
        )  # fmt: skip
        _wait_ready(self.port)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)


def _backfill(specs: list[Any], clock: SimClock, mqtt: str) -> int:
    fleet = Fleet(len(specs), mqtt, specs=specs, span=clock.span, resend_after_s=120.0)
    fleet.start()
    fleet.wait_connected(max(20.0, len(specs) / 40))
    started = time.monotonic()
    step = max(1, clock.windows // 20)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            spent = time.monotonic() - started
            _log(f"  back-fill: window {done}/{total} of {len(specs)} homes, ~{done * len(specs)} reports,"
                 f" {done * len(specs) / max(spent, 1e-6):.0f} reports/s")  # fmt: skip

    reports = fleet.backfill(clock.first_end, clock.windows, clock.window_s, progress=progress)
    _log(f"  back-fill: {reports} reports spooled; waiting for the collector's acknowledgements")
    fleet.drain(timeout=600.0)
    fleet.stop()
    return reports


async def _evaluate(db: Path, crm_text: str, as_of: int) -> None:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        ins = insights(store)
        await ins.upsert_subscribers(parse_subscribers(crm_text).rows)
        await drain_folds(ins)
        await evaluate(ins, load_config(), as_of=as_of, workers=1)
    finally:
        await store.close()


def _latencies(api: Api, subscribers: list[str], audiences: int, rng: random.Random) -> dict[str, float]:
    """p95 of a segment preview, an audience freeze and a subscriber's offers, over the API."""
    definitions = [{"flag": f} for f in OFFERS.values()] + [
        {"all": [{"flag": "mesh_or_fttr"}, {"wifi_score": {"lt": 55}}]},
        {"any": [{"warning": "churn_risk"}, {"warning": "inactive"}]},
        {"all": [{"label": "heavy_gamer"}, {"not": {"flag": "acceleration_package"}}]},
    ]
    seg = [api.call("POST", "/api/v1/segments/preview", {"definition": definitions[i % len(definitions)]})[0]
           for i in range(40)]  # fmt: skip
    aud = [api.call("POST", "/api/v1/audiences", {"name": f"latency {i}", "definition": definitions[i % len(definitions)]})[0]
           for i in range(audiences)]  # fmt: skip
    offers = [api.call("GET", f"/api/v1/subscribers/{rng.choice(subscribers)}/offers")[0] for _ in range(300)]
    return {"segment_p95": p95(seg), "audience_p95": p95(aud), "offers_p95": p95(offers)}


def _delivered(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for f in sorted(folder.glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _violations(delivered: list[dict[str, str]], policy: Policy, opted: dict[str, float]) -> int:
    """Subscribers whose delivered messages break the policy (cap per period, same offer twice, after opt-out)."""
    by_sub: dict[str, list[dict[str, str]]] = {}
    for m in delivered:
        by_sub.setdefault(m["subscriber_id"], []).append(m)
    bad = 0
    for sub, msgs in by_sub.items():
        times = sorted(float(m["handed_at"]) for m in msgs)
        over = any(
            sum(1 for u in times if t <= u < t + policy.period_days * DAY) > policy.max_contacts
            for t in times
        )
        mains = [m["offer_id"] for m in msgs if m["step"] == "main"]
        twice = len(mains) != len(set(mains))
        after = sub in opted and any(float(m["handed_at"]) > opted[sub] for m in msgs)
        bad += over or twice or after
    return bad


def loop(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The whole loop at ``--homes`` (see the module docstring)."""
    rng = random.Random(args.seed)
    today = int(time.time()) // DAY * DAY
    clock = SimClock.for_days(args.days, today)  # whole UTC days ending at today's midnight
    specs = fleet_specs(parse_mix(args.mix), args.homes, "camp", args.seed)
    by_gid = {s.gateway_id: s for s in specs}
    write_truth(work / "truth.json", specs, clock.span)
    write_crm(work / "subscribers.csv", specs, clock.end)
    offers_file = _catalogue(work)
    broker = Broker(args.mosquitto, work / "mosquitto")
    broker.start()
    db = work / "collector.db"
    figures: dict[str, Any] = {
        "homes": args.homes,
        "days": args.days,
        "seed": args.seed,
        "control_share": args.control,
    }
    collector = None
    try:
        collector = Collector(work, db, broker.url, offers_file)
        t0 = time.monotonic()
        _log(f"back-filling {args.homes} homes x {args.days} days through Mosquitto (seed {args.seed})")
        figures["reports"] = _backfill(specs, clock, broker.url)
        figures["backfill_s"] = round(time.monotonic() - t0, 1)
        _log(f"back-filled {figures['reports']} reports in {figures['backfill_s']} s; evaluating every home")
        collector.stop()
        collector = None
        t0 = time.monotonic()
        asyncio.run(_evaluate(db, (work / "subscribers.csv").read_text(), clock.end))
        figures["evaluation_s"] = round(time.monotonic() - t0, 1)
        _log(f"evaluated in {figures['evaluation_s']} s; freezing audiences and launching campaigns")
        collector = Collector(work, db, broker.url, offers_file)
        api = Api(collector.port)
        # -- campaigns, one per offer type ----------------------------------------------------
        campaigns: dict[str, int] = {}
        for offer, flag in OFFERS.items():
            _, audience = api.call(
                "POST", "/api/v1/audiences", {"name": f"{offer} targets", "definition": {"flag": flag}}
            )
            if audience["size"] == 0:
                continue
            _, c = api.call("POST", "/api/v1/campaigns", {
                "name": f"{offer} (bench)", "audience_id": audience["id"], "offer_id": offer, "channel": "sms",
                "template": "Hello {name}: {offer} for {price} a month. We measured {evidence}.",
                "control_share": args.control, "seed": args.seed})  # fmt: skip
            api.call("POST", f"/api/v1/campaigns/{c['id']}/launch")
            campaigns[offer] = int(c["id"])
        _log(f"launched {len(campaigns)} campaigns; waiting for delivery")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            states = [
                api.call("GET", f"/api/v1/campaigns/{cid}/results")[1]["messages"]
                for cid in campaigns.values()
            ]
            waiting = sum(
                m.get("queued", 0) + m.get("sending", 0) for m in states
            )  # sending: claimed, being handed over
            if waiting == 0:
                break
            time.sleep(1.0)
        delivered = _delivered(work / "drop")
        _log(f"delivered {len(delivered)} messages; the households answer")
        # -- the households answer --------------------------------------------------------------
        conn = sqlite3.connect(db)
        arms = {cid: conn.execute("SELECT gateway_id, subscriber_id, arm FROM mkt_members WHERE campaign_id = ?",
                                  (cid,)).fetchall() for cid in campaigns.values()}  # fmt: skip
        launched = {cid: conn.execute("SELECT launched_at FROM mkt_campaigns WHERE id = ?", (cid,)).fetchone()[0]
                    for cid in campaigns.values()}  # fmt: skip
        conn.close()
        tomorrow = today + DAY
        responses, truth = [], {}
        for offer, cid in campaigns.items():
            reached = {
                m["subscriber_id"] for m in delivered if int(m["campaign_id"]) == cid and m["step"] == "main"
            }
            horizon = max(120.0, min(6 * 3600.0, tomorrow - launched[cid] - 120))
            answers = respond(
                [(g, s) for g, s, _ in arms[cid]], offer, reached, launched[cid], horizon, args.seed
            )
            responses += answers
            arm_of = {g: a for g, _, a in arms[cid]}
            treated = [r for r in answers if arm_of[r.gateway_id] == "treatment"]
            control = [r for r in answers if arm_of[r.gateway_id] == "control"]
            expect_t = sum(
                r.propensity.contacted if r.contacted else r.propensity.base for r in treated
            ) / len(treated)
            expect_c = sum(propensity(r.gateway_id, offer, args.seed).base for r in control) / max(
                1, len(control)
            )
            truth[offer] = {"true_uplift": expect_t - expect_c,
                            "control_contacted": sum(1 for r in control if r.subscriber_id in reached)}  # fmt: skip
        rows = outcome_rows(responses, {s.gateway_id: s.plan_mbps for s in specs})
        with open(work / "outcomes.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(
                f, fieldnames=["subscriber_id", "kind", "offer_id", "at", "plan_down_mbps"]
            )
            writer.writeheader()
            writer.writerows(rows)
        write_response_truth(work / "responses.json", responses)
        # -- what buying changed: mesh nodes appear today, plans change in the CRM ----------------
        bought: dict[str, list[str]] = {}
        for r in responses:
            if r.converted:
                bought.setdefault(r.gateway_id, []).append(r.offer)
        now_homes = {}
        for g, offers in sorted(bought.items()):
            home = by_gid[g]
            for o in offers:
                home = after_purchase(home, o)
            now_homes[g] = home
        if now_homes:  # the day after: what each home's gateway reports with what it bought
            _log(
                f"{len(now_homes)} homes bought: back-filling the next day (new mesh nodes, video, faster paths)"
            )
            _backfill(list(now_homes.values()), SimClock.for_days(1, tomorrow), broker.url)
        upgraded = [now_homes.get(g, by_gid[g]) for g in by_gid]
        write_crm(work / "subscribers-after.csv", upgraded, clock.end)
        cli = [sys.executable, "-m", "collector.cli"]
        env = {**os.environ, "HOMESCOPE_OFFERS": str(offers_file)}
        subprocess.run([*cli, "import-subscribers", str(work / "subscribers-after.csv"), "--db", f"sqlite:///{db}"],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
        imported = subprocess.run([*cli, "import-outcomes", str(work / "outcomes.csv"), "--db", f"sqlite:///{db}"],
                                  cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
        _log(imported)
        time.sleep(2.0)  # the collector folds the new day's reports while idle
        # -- results -----------------------------------------------------------------------------
        _log("reading each campaign's results")
        opted = {r.subscriber_id: r.at for r in responses if r.opted_out}
        violations = _violations(delivered, Policy(max_contacts=3, period_days=30), opted)
        out: dict[str, Any] = {}
        for offer, cid in campaigns.items():
            _, res = api.call("GET", f"/api/v1/campaigns/{cid}/results")
            u = res["uplift"]
            t = truth[offer]["true_uplift"]
            ci = u["ci95"]
            out[offer] = {"true_uplift": round(t, 5), "uplift": u["uplift"], "ci95": ci,
                          "covered": bool(ci and ci[0] <= t <= ci[1]), "treated": u["treated"], "control": u["control"],
                          "converted": res["converted"], "contacted": res["contacted"],
                          "verified": res["verified_conversions"], "verify": res["verify"],
                          "opt_outs": res["opt_outs"]["treatment"], "suppressed": res["messages"].get("suppressed", 0),
                          "control_contacted": max(res["control_contacted"], truth[offer]["control_contacted"]),
                          "policy_violations": violations}  # fmt: skip
        subscribers = [s.subscriber_id for s in specs]
        _log("timing the API (segment preview, audience freeze, offers)")
        figures["latency_ms"] = _latencies(api, subscribers, 10, rng)
        figures["offers"] = out
        figures["method"] = "newcombe-wilson (hybrid score) 95% interval of a difference of proportions"
        return figures
    finally:
        if collector is not None:
            collector.stop()
        broker.stop()


def scale(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The API's latencies at ``--scale`` homes (results copied from ``--sample`` evaluated homes)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from insight import _simulate  # the same in-process simulation the profile bench uses

    today = int(time.time()) // DAY * DAY
    clock = SimClock.for_days(args.days, today)
    sample = fleet_specs(parse_mix(args.mix), args.sample, "sample", args.seed)
    db = work / "scale.db"
    _log(f"simulating {args.sample} homes x {args.days} days in-process")
    rows = _simulate(sample, clock)
    _log("evaluating them")
    asyncio.run(_evaluate_sample(db, sample, rows, clock.end))
    _log(f"copying their CRM rows, profiles and results to {args.scale} homes")
    conn = sqlite3.connect(db)
    src = {
        t: conn.execute(f"SELECT * FROM {t}").fetchall()
        for t in ("subscribers", "home_profiles", "home_results")
    }
    ids = sorted({r[0] for r in src["home_profiles"]})
    conn.execute("BEGIN")
    for table in src:
        conn.execute(f"DELETE FROM {table}")
    for table, found in src.items():
        marks = ", ".join("?" * len(found[0]))
        by = {}
        for r in found:
            by.setdefault(r[0], []).append(r)
        batch = []
        for n in range(args.scale):
            for r in by.get(ids[n % len(ids)], []):
                gid = f"gw-{n:07d}"
                row = list(r)
                row[0] = gid
                if table == "subscribers":
                    row[1] = f"sub-{n}"
                batch.append(row)
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", batch)
        _log(f"  {table}: {len(batch)} rows")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    _log("starting the collector and timing the API (segment preview, audience freeze, offers)")
    broker = Broker(args.mosquitto, work / "mosquitto")
    broker.start()
    collector = None
    try:
        collector = Collector(work, db, broker.url, _catalogue(work))
        figures = _latencies(
            Api(collector.port), [f"sub-{n}" for n in range(args.scale)], 10, random.Random(args.seed)
        )
    finally:
        if collector is not None:
            collector.stop()
        broker.stop()
    return {"homes": args.scale, "sample_homes": args.sample, "latency_ms": figures, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}  # fmt: skip


async def _evaluate_sample(db: Path, sample: list[Any], rows: list[Any], as_of: int) -> None:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        ins = insights(store)
        conn = sqlite3.connect(db)
        conn.execute("BEGIN")
        for spec, days in zip(sample, rows, strict=True):
            conn.executemany("INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, ?, 0)",
                             [(spec.gateway_id, d, core, detail) for d, core, detail in days])  # fmt: skip
        conn.execute("COMMIT")
        conn.close()
        crm = "\n".join(",".join(r.values()) for r in crm_rows(sample, as_of))
        header = "subscriber_id,gateway_id,plan_down_mbps,plan_up_mbps,price,contract_end,area,community\n"
        await ins.upsert_subscribers(parse_subscribers(header + crm + "\n").rows)
        await evaluate(ins, load_config(), as_of=as_of, workers=1)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--homes", type=int, default=5000)
    parser.add_argument(
        "--days", type=int, default=1, help="days of reports before the campaigns (default 1)"
    )
    parser.add_argument("--mix", default="mix", help="persona mix (see homescope-emulator run --help)")
    parser.add_argument("--seed", type=int, default=1, help="fleet, control groups and responses (default 1)")
    parser.add_argument("--control", type=float, default=0.1, help="control group share (default 0.1)")
    parser.add_argument("--scale", type=int, help="measure the API latencies at this many homes instead")
    parser.add_argument("--sample", type=int, default=200, help="--scale: homes actually simulated")
    parser.add_argument("--mosquitto", default="/usr/sbin/mosquitto")
    parser.add_argument("--keep", help="keep the work files (database, drop, truth, outcomes) here")
    parser.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    args = parser.parse_args(argv)
    _log(f"seed {args.seed}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory(prefix="campaign-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        out = scale(args, work) if args.scale else loop(args, work)
    if not args.json:
        for offer, o in out.get("offers", {}).items():
            print(f"{offer:16} true {o['true_uplift']:+.4f}  measured {o['uplift']}  ci95 {o['ci95']}  "
                  f"treated {o['treated']} control {o['control']}  covered {o['covered']}")  # fmt: skip
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
