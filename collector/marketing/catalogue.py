"""The offer catalogue (a TOML file) and each subscriber's ranked next-best offers.

The shipped defaults are ``offers.toml`` beside this module; ``HOMESCOPE_OFFERS`` names
the operator's own file. Unknown keys, unknown rules and offers excluding unknown offers
stop the collector at start-up with a message naming the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from collector.marketing import MarketingError

VERIFY = ("mesh_node", "plan", "video_hours", "latency", "none")
OFFER_KEYS = {"name", "price", "priority", "flags", "labels", "warnings", "excludes", "verify", "talk"}
POLICY_KEYS = {
    "max_contacts",
    "period_days",
    "quiet_start_hour",
    "quiet_end_hour",
    "utc_offset_hours",
    "top_n",
}
WEIGHTS = {"flag": 1.0, "label": 0.5, "warning": 0.5}


class CatalogueError(MarketingError):
    """A catalogue file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Offer:
    """One offer of the catalogue."""

    id: str
    name: str
    price: float
    priority: float = 0.0
    flags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    verify: str = "none"
    talk: str = "{offer}: {evidence}"

    def rules(self) -> dict[str, str]:
        """Rule name -> kind, for every result that makes a home eligible."""
        found = {r: "flag" for r in self.flags}
        found.update({r: "label" for r in self.labels})
        found.update({r: "warning" for r in self.warnings})
        return found


@dataclass(frozen=True)
class Policy:
    """The contact policy across all campaigns."""

    max_contacts: int = 3
    period_days: float = 30.0
    quiet_start_hour: int = 21
    quiet_end_hour: int = 9
    utc_offset_hours: float = 0.0
    top_n: int = 6


@dataclass(frozen=True)
class Catalogue:
    """Offers by id, in file order, and the contact policy."""

    offers: dict[str, Offer]
    policy: Policy = field(default_factory=Policy)

    def offer(self, offer_id: str) -> Offer:
        """The offer, or a :class:`CatalogueError` naming it and the known ones."""
        try:
            return self.offers[offer_id]
        except KeyError:
            raise CatalogueError(f"unknown offer {offer_id!r}; known: {', '.join(self.offers)}") from None

    def for_flag(self, rule: str) -> list[Offer]:
        """The offers a flag (or any result) makes eligible."""
        return [o for o in self.offers.values() if rule in o.rules()]


@dataclass(frozen=True)
class Ranked:
    """One next-best offer for one subscriber."""

    offer: str
    name: str
    price: float
    score: float
    because: list[str]
    evidence: str
    talk: str

    def to_dict(self) -> dict[str, Any]:
        return {"offer": self.offer, "name": self.name, "price": self.price, "score": round(self.score, 3),
                "because": self.because, "evidence": self.evidence, "talk": self.talk}  # fmt: skip


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"offers: {where} must be a list of strings")
    return tuple(value)


def _offer(oid: str, raw: Any, kind_of: Callable[[str], str | None]) -> Offer:
    where = f"offers.{oid}"
    if not isinstance(raw, dict):
        raise CatalogueError(f"offers: {where} must be a table")
    unknown = set(raw) - OFFER_KEYS
    if unknown:
        raise CatalogueError(f"offers: unknown key {where}.{sorted(unknown)[0]}")
    if not isinstance(raw.get("name"), str) or not isinstance(raw.get("price"), int | float):
        raise CatalogueError(f"offers: {where} needs a name (text) and a price (number)")
    lists = {k: _strings(raw.get(k, []), f"{where}.{k}") for k in ("flags", "labels", "warnings", "excludes")}
    for key, kind in (("flags", "flag"), ("labels", "label"), ("warnings", "warning")):
        for name in lists[key]:
            if kind_of(name) != kind:
                raise CatalogueError(f"offers: {where}.{key}: {name!r} is not a {kind} rule")
    verify = raw.get("verify", "none")
    if verify not in VERIFY:
        raise CatalogueError(f"offers: {where}.verify must be one of {', '.join(VERIFY)}")
    talk = raw.get("talk", "{offer}: {evidence}")
    try:
        talk.format(evidence="", offer="", price="")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise CatalogueError(
            f"offers: {where}.talk: unknown parameter {exc}; known: evidence, offer, price"
        ) from None
    return Offer(oid, raw["name"], float(raw["price"]), float(raw.get("priority", 0)), lists["flags"],
                 lists["labels"], lists["warnings"], lists["excludes"], verify, talk)  # fmt: skip


def parse_catalogue(text: str, kind_of: Callable[[str], str | None]) -> Catalogue:
    """Check a catalogue's TOML text; ``kind_of(rule)`` is a rule's kind or ``None``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"offers: not TOML: {exc}") from None
    unknown = set(raw) - {"offers", "policy"}
    if unknown:
        raise CatalogueError(f"offers: unknown key {sorted(unknown)[0]}")
    policy_raw = raw.get("policy", {})
    bad = set(policy_raw) - POLICY_KEYS
    if bad:
        raise CatalogueError(f"offers: unknown key policy.{sorted(bad)[0]}")
    for key, value in policy_raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise CatalogueError(f"offers: policy.{key} must be a number >= 0")
    policy = Policy(**policy_raw)
    offers = {oid: _offer(oid, o, kind_of) for oid, o in raw.get("offers", {}).items()}
    for o in offers.values():
        for other in o.excludes:
            if other not in offers:
                raise CatalogueError(f"offers: offers.{o.id}.excludes names unknown offer {other!r}")
    if not offers:
        raise CatalogueError("offers: the catalogue has no [offers.<id>] table")
    return Catalogue(offers, policy)


def load_catalogue(path: str | None, kind_of: Callable[[str], str | None]) -> Catalogue:
    """The catalogue at ``path`` (or ``HOMESCOPE_OFFERS``, or the shipped defaults)."""
    path = path or os.environ.get("HOMESCOPE_OFFERS") or None
    if path is None:
        text = resources.files(__package__).joinpath("offers.toml").read_text(encoding="utf-8")
    else:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise CatalogueError(f"offers: cannot read {path}: {exc}") from None
    return parse_catalogue(text, kind_of)


def rank_offers(
    catalogue: Catalogue,
    results: Iterable[Mapping[str, Any]],
    taken: Iterable[str] = (),
    top_n: int | None = None,
) -> list[Ranked]:
    """A home's ranked next-best offers from its current results (``rule``, ``kind``, ``sentence``).

    Offers already taken, and offers mutually exclusive with one taken or with a better
    ranked one, are left out.
    """
    held = {r["rule"]: r for r in results}
    taken_set = set(taken)
    candidates: list[tuple[float, Offer, list[str]]] = []
    for offer in catalogue.offers.values():
        if offer.id in taken_set or taken_set & set(offer.excludes):
            continue
        because = [rule for rule in offer.rules() if rule in held]
        if not because:
            continue
        score = offer.priority + sum(WEIGHTS[offer.rules()[r]] for r in because)
        candidates.append((score, offer, because))
    candidates.sort(key=lambda c: (-c[0], -c[1].price, c[1].id))
    kept: list[Ranked] = []
    for score, offer, because in candidates:
        if any(k.offer in offer.excludes for k in kept):
            continue
        evidence = "; ".join(str(held[r]["sentence"]) for r in because)
        talk = offer.talk.format(evidence=evidence, offer=offer.name, price=f"{offer.price:g}")
        kept.append(Ranked(offer.id, offer.name, offer.price, score, because, evidence, talk))
    return kept[: top_n if top_n is not None else catalogue.policy.top_n]
