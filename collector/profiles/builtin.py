"""The rules homescope ships: labels, flags (offers) and warnings, each a pure function of a
profile and its thresholds (``thresholds.toml``), each explaining itself in one sentence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.profiles.profile import Profile
from collector.profiles.registry import Finding, rule
from collector.profiles.terminals import WORK_TYPES


def _days_on(daily: list[float], min_minutes: float) -> tuple[int, int]:
    return sum(m >= min_minutes for m in daily), len(daily)


def _enough_days(on: int, days: int, share: float) -> bool:
    # a habit needs at least one whole day to be seen ("on 0 of 0 days" explains nothing)
    return days > 0 and on >= share * days


def _band(band: str) -> str:
    return band.replace("GHz", " GHz")


def _habit(p: Profile, t: dict[str, Any], category: str, what: str) -> Finding | None:
    hours = p.preferences.hours_per_day.get(category, 0.0)
    on, days = _days_on(p.preferences.daily_minutes.get(category, []), float(t["min_day_minutes"]))
    if hours < float(t["min_hours_per_day"]) or not _enough_days(on, days, float(t["min_days_share"])):
        return None
    return Finding(
        {"hours_per_day": hours, "days_on": on, "days": days},
        f"{hours:.1f} h/day of {what} on {on} of {days} days",
    )


# -- labels ----------------------------------------------------------------------------------------
@rule("heavy_gamer", kind="label")
def heavy_gamer(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Plays games for hours, on most days."""
    return _habit(p, t, "game", "gaming")


@rule("reader", kind="label")
def reader(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Reads (e-books, news, long-form) every day or nearly."""
    return _habit(p, t, "reading", "reading")


@rule("video_lover", kind="label")
def video_lover(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Watches hours of video a day, live streams included; the state says short, long or both."""
    prefs = p.preferences
    long, short = prefs.hours_per_day.get("video", 0.0), prefs.hours_per_day.get("short_video", 0.0)
    live = prefs.live_viewing_hours_per_day
    hours = long + short + live
    # per day: the live category's minutes in the share that was viewing, not broadcasting
    live_total = prefs.hours_per_day.get("live_streaming", 0.0)
    viewing = live / live_total if live_total else 0.0
    series = [
        prefs.daily_minutes.get("video", []),
        prefs.daily_minutes.get("short_video", []),
        [m * viewing for m in prefs.daily_minutes.get("live_streaming", [])],
    ]
    width = max((len(s) for s in series), default=0)
    daily = [sum(s[i] if i < len(s) else 0.0 for s in series) for i in range(width)]
    on, days = _days_on(daily, float(t["min_day_minutes"]))
    if hours < float(t["min_hours_per_day"]) or not _enough_days(on, days, float(t["min_days_share"])):
        return None
    share = short / hours
    style = "short" if share >= t["style_share"] else "long" if share <= 1 - t["style_share"] else "both"
    return Finding(
        {"hours_per_day": round(hours, 2), "long_hours": long, "short_hours": short, "live_hours": round(live, 2),
         "short_share": round(share, 3), "days_on": on, "days": days},
        f"{hours:.1f} h/day of video ({long:.1f} h long, {short:.1f} h short{f', {live:.1f} h live' if live else ''})"
        f" on {on} of {days} days; style {style}",
        state=style,
    )  # fmt: skip


@rule("livestreamer", kind="label")
def livestreamer(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Streams live video out of the home (upload-heavy live streaming)."""
    hours = p.preferences.upload_hours_per_day.get("live_streaming", 0.0)
    kbps = p.preferences.upload_kbps.get("live_streaming", 0.0)
    if hours < float(t["min_upload_hours_per_day"]) or kbps < float(t["min_upload_kbps"]):
        return None
    return Finding(
        {"upload_hours_per_day": hours, "upload_kbps": kbps},
        f"{hours:.1f} h/day of live upload at {kbps / 1000:.1f} Mbit/s",
    )


@rule("soho", kind="label")
def soho(p: Profile, t: dict[str, Any]) -> Finding | None:
    """A small office or home office: work terminals and working hours of work applications."""
    work = p.terminals.work
    hours = p.preferences.weekday_hours_per_day.get("work", 0.0)
    if work < int(t["min_work_terminals"]) or hours < float(t["min_work_hours_per_day"]):
        return None
    kinds = sorted({x.type for x in p.terminals.items if x.type in WORK_TYPES})
    return Finding(
        {"work_terminals": work, "work_types": kinds, "work_hours_per_weekday": hours},
        f"{work} work terminals ({', '.join(kinds)}); {hours:.1f} h/day of work applications on weekdays",
    )


# -- flags -----------------------------------------------------------------------------------------
@rule("mesh_or_fttr", kind="flag")
def mesh_or_fttr(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Offer mesh APs or FTTR: many smart terminals, poor Wi-Fi, and the spending power for it."""
    tm, q, plan = p.terminals, p.quality, p.plan
    if tm.count < int(t["min_devices"]) or tm.smart < int(t["min_smart_devices"]) or q.mesh_nodes:
        return None
    band = q.worst_band
    weak = q.weak_share.get(band, 0.0) if band else 0.0
    score = q.wifi_score
    if weak < float(t["min_weak_share"]) and (score is None or score >= float(t["max_wifi_score"])):
        return None
    spending: list[str] = []
    if plan.price is not None and plan.price >= float(t["min_price"]):
        spending.append(f"price {plan.price:g}")
    if plan.down_mbps is not None and plan.down_mbps >= float(t["min_plan_mbps"]):
        spending.append(f"plan {plan.down_mbps:g} Mbit/s")
    if tm.premium >= int(t["min_premium_devices"]):
        spending.append(f"{tm.premium} premium devices")
    if not spending:
        return None
    intf = q.interference_pct.get(band, 0.0) if band else 0.0
    where = f"on {_band(band)}" if band else "overall"
    return Finding(
        {"devices": tm.count, "smart_devices": tm.smart, "weak_band": band, "weak_share": weak,
         "interference_pct": intf, "wifi_score": score, "wifi_parts": q.parts, "spending_power": spending},
        f"{tm.count} devices; {weak:.0%} of station-time below {q.weak_signal_dbm} dBm {where};"
        f" interference {intf:.0f}%; Wi-Fi score {score if score is not None else 0:.0f}/100;"
        f" {tm.smart} smart devices; {', '.join(spending)}",
    )  # fmt: skip


@rule("plan_upgrade", kind="flag")
def plan_upgrade(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Offer a faster plan: heavy high-bitrate use that keeps hitting the plan's speed."""
    tr = p.traffic
    busy = tr.busy_windows_per_day
    if busy is None or tr.plan_mbps is None:
        return None
    if busy < float(t["min_busy_windows_per_day"]) or tr.high_bitrate_share < float(
        t["min_high_bitrate_share"]
    ):
        return None
    return Finding(
        {"busy_windows_per_day": busy, "plan_mbps": tr.plan_mbps, "high_bitrate_share": tr.high_bitrate_share,
         "p95_kbps": tr.p95_kbps, "gb_per_day": tr.gb_per_day},
        f"{busy / 4:.1f} h/day at >= {tr.busy_share_of_plan:.0%} of the {tr.plan_mbps:g} Mbit/s plan;"
        f" {tr.high_bitrate_share:.0%} of traffic at >= {tr.high_bitrate_kbps / 1000:g} Mbit/s",
    )  # fmt: skip


@rule("video_package", kind="flag")
def video_package(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Offer a video package: online many hours a day, watching both short and long video."""
    online = p.activity.online_hours_per_day
    short = p.preferences.hours_per_day.get("short_video", 0.0)
    long = p.preferences.hours_per_day.get("video", 0.0)
    if (
        online < float(t["min_online_hours_per_day"])
        or short < float(t["min_short_hours_per_day"])
        or long < float(t["min_long_hours_per_day"])
    ):
        return None
    return Finding(
        {"online_hours_per_day": online, "short_hours": short, "long_hours": long},
        f"{online:.1f} h/day online; {short:.1f} h/day short video and {long:.1f} h/day long video",
    )


@rule("acceleration_package", kind="flag")
def acceleration_package(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Offer game acceleration: a gamer whose path to the internet is slow, jittery or lossy."""
    game = p.preferences.hours_per_day.get("game", 0.0)
    path = p.quality.internet
    if game < float(t["min_game_hours_per_day"]) or path is None:
        return None
    delay, jitter, loss = path["delay_ms"], path["jitter_ms"], path["loss_pct"]
    if delay < t["min_delay_ms"] and jitter < t["min_jitter_ms"] and loss < t["min_loss_pct"]:
        return None
    return Finding(
        {"game_hours_per_day": game, "delay_ms": delay, "jitter_ms": jitter, "loss_pct": loss},
        f"{game:.1f} h/day of gaming; internet delay {delay:.0f} ms, jitter {jitter:.0f} ms, loss {loss:.1f}%",
    )


@rule("traffic_package", kind="flag")
def traffic_package(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Offer a traffic (volume) package: a very heavy volume on a plan fast enough for it."""
    tr = p.traffic
    busy = tr.busy_windows_per_day or 0.0
    if tr.gb_per_day < float(t["min_gb_per_day"]) or busy >= float(t["max_busy_windows_per_day"]):
        return None
    plan = (
        f"busiest windows use {tr.utilisation:.0%} of the {tr.plan_mbps:g} Mbit/s plan"
        if tr.utilisation is not None and tr.plan_mbps
        else "plan unknown"
    )
    return Finding(
        {"gb_per_day": tr.gb_per_day, "busy_windows_per_day": busy, "utilisation": tr.utilisation},
        f"{tr.gb_per_day:.1f} GB/day over {p.activity.observed_days:.0f} days; {plan}",
    )


# -- warnings --------------------------------------------------------------------------------------
def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


@rule("churn_risk", kind="warning", window="30d")
def churn_risk(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Likely to leave for another operator: a scored sum of weighted factors."""
    factors: list[dict[str, Any]] = []
    comp = p.competitor
    strongest = comp.strongest
    if strongest and strongest["strong_share"] > 0:
        grade = _clamp(strongest["strong_share"] / float(t["competitor_scan_share"]))
        factors.append(
            {"factor": "competitor", "grade": grade, "weight": t["weight_competitor"],
             "value": strongest["strong_share"],
             "detail": f"competitor {strongest['operator']} ({strongest['ssid']}) at {strongest['max_dbm']} dBm"
                       f" in {strongest['strong_share']:.0%} of scans"}
        )  # fmt: skip
    ratio = comp.decline_ratio
    if ratio is not None and comp.earlier_hours_per_day >= float(t["decline_min_hours_per_day"]):
        start, full = float(t["decline_start_ratio"]), float(t["decline_full_ratio"])
        grade = _clamp((start - ratio) / (start - full))
        if grade > 0:
            factors.append(
                {"factor": "decline", "grade": grade, "weight": t["weight_decline"], "value": ratio,
                 "detail": f"use down {1 - ratio:.0%} (last {comp.recent_days} days vs before)"}
            )  # fmt: skip
    offline = p.activity.longest_offline_h
    if offline >= float(t["offline_min_hours"]):
        grade = _clamp(offline / float(t["offline_full_hours"]))
        factors.append(
            {"factor": "offline", "grade": grade, "weight": t["weight_offline"], "value": offline,
             "detail": f"offline {offline:.0f} h at a stretch"}
        )  # fmt: skip
    left = p.plan.days_to_contract_end
    if left is not None and 0 <= left <= int(t["contract_days"]):
        factors.append(
            {"factor": "contract", "grade": 1.0, "weight": t["weight_contract"], "value": left,
             "detail": f"contract ends in {left} days"}
        )  # fmt: skip
    factors += _crm_factors(p, t)
    score = round(sum(f["grade"] * float(f["weight"]) for f in factors), 2)
    if score < float(t["min_score"]):
        return None
    for f in factors:
        f["grade"] = round(f["grade"], 2)
    return Finding(
        {"score": score, **{f["factor"]: f["value"] for f in factors}},
        f"churn risk {score:.2f}: " + "; ".join(f["detail"] for f in factors),
        state="high" if score >= 0.75 else "medium",
        score=score,
        factors=factors,
    )


def _crm_factors(p: Profile, t: dict[str, Any]) -> list[dict[str, Any]]:
    """Churn factors from the CRM's optional columns (absent columns add nothing)."""
    out: list[dict[str, Any]] = []
    plan = p.plan
    if plan.tenure_months is not None and plan.tenure_months < float(t["tenure_short_months"]):
        # new subscribers leave most: grade 1 at 0 months, 0 at tenure_short_months
        grade = _clamp(1 - plan.tenure_months / float(t["tenure_short_months"]))
        out.append(
            {"factor": "tenure", "grade": grade, "weight": t["weight_tenure"], "value": plan.tenure_months,
             "detail": f"subscriber for {plan.tenure_months:.0f} months"}
        )  # fmt: skip
    if plan.complaints:
        grade = _clamp(plan.complaints / float(t["complaints_full"]))
        out.append(
            {"factor": "complaints", "grade": grade, "weight": t["weight_complaints"], "value": plan.complaints,
             "detail": f"{plan.complaints:.0f} complaint{'' if plan.complaints == 1 else 's'} in 90 days"}
        )  # fmt: skip
    if plan.arrears:
        out.append(
            {"factor": "arrears", "grade": 1.0, "weight": t["weight_arrears"], "value": plan.arrears,
             "detail": f"{plan.arrears:.0f} overdue"}
        )  # fmt: skip
    return out


@rule("inactive", kind="warning")
def inactive(p: Profile, t: dict[str, Any]) -> Finding | None:
    """Barely used by people: almost no engaged time and almost no people's traffic (or no reports).

    Devices' own traffic (plugs, cameras, the iot and background categories) is counted apart and
    never makes a home active: a home where only a camera uploads all day is empty.
    """
    act, tr = p.activity, p.traffic
    if act.observed_days < float(t["min_observed_days"]):
        return None
    people_gb = max(0.0, tr.gb_per_day - act.background_gb_per_day)
    if act.online_hours_per_day > float(t["max_engaged_hours_per_day"]) or people_gb > float(
        t["max_gb_per_day"]
    ):
        return None
    tail = f"; no report for {act.longest_offline_h / 24:.0f} days" if not p.reports else ""
    n = p.terminals.count
    devices = (
        f"; devices' own traffic not counted: {act.background_hours_per_day:.1f} h/day,"
        f" {act.background_gb_per_day:.2f} GB/day"
        if act.background_hours_per_day or act.background_gb_per_day
        else ""
    )
    return Finding(
        {"engaged_hours_per_day": act.online_hours_per_day, "gb_per_day": round(people_gb, 3),
         "background_hours_per_day": act.background_hours_per_day,
         "background_gb_per_day": act.background_gb_per_day, "devices": p.terminals.count, "reports": p.reports},
        f"{act.online_hours_per_day:.1f} h/day engaged (people on personal terminals); {people_gb:.2f} GB/day of"
        f" people's traffic over {act.observed_days:.0f} days; {n} device{'' if n == 1 else 's'}{devices}{tail}",
    )  # fmt: skip


@rule("below_install_baseline", kind="warning")
def below_install_baseline(p: Profile, t: dict[str, Any]) -> Finding | None:
    """The Wi-Fi score fell well below the score the installer recorded at the visit (the baseline)."""
    install = p.extra.get("install")
    now = p.quality.wifi_score
    if not install or now is None:
        return None
    then = float(install["wifi_score"])
    drop = then - now
    if drop < float(t["min_drop"]):
        return None
    day = datetime.fromtimestamp(float(install["recorded_at"]), UTC).date().isoformat()
    return Finding(
        {
            "install_score": round(then, 1),
            "score_now": round(now, 1),
            "drop": round(drop, 1),
            "installed_on": day,
        },
        f"Wi-Fi score {then:.0f} at install on {day}, {now:.0f} now",
        score=round(drop, 1),
    )
