"""Runs every sampler for one window and merges their sections into a report body.

A sampler that is unavailable or fails is recorded in the body's ``samplers`` section,
logged once per change of state, backed off, and never stops the others.
"""

from __future__ import annotations

from typing import Any

from agent.logger import Logger
from agent.record import record
from agent.samplers import SampleContext, Sampler

log = Logger(__name__)

#: After this many failed windows in a row, a sampler waits up to this many windows.
MAX_BACKOFF_WINDOWS = 8


@record
class _Health:
    state: str = "new"
    reason: str = ""
    failures: int = 0
    skip: int = 0


class Reporter:
    """Owns the sampler instances (they keep state such as previous CPU times)."""

    def __init__(self, samplers: list[Sampler]) -> None:
        self.samplers = samplers
        self._health: dict[str, _Health] = {s.name: _Health() for s in samplers}

    def _set(self, name: str, state: str, reason: str = "") -> None:
        health = self._health[name]
        if health.state != state:
            if state == "ok":
                log.info(
                    "sampler %s: ok%s", name, f" again (was {health.state})" if health.state != "new" else ""
                )
            else:
                log.warning("sampler %s: %s: %s", name, state, reason)
        health.state, health.reason = state, reason

    def collect(self, ctx: SampleContext) -> dict[str, Any]:
        """Sample everything for ``ctx``'s window; return the report body."""
        body: dict[str, Any] = {}
        status: dict[str, dict[str, str]] = {}
        for sampler in self.samplers:
            health = self._health[sampler.name]
            if health.skip > 0:
                health.skip -= 1
                status[sampler.name] = {"state": health.state, "reason": f"backing off: {health.reason}"}
                continue
            try:
                why_not = sampler.available(ctx)
                if why_not is not None:
                    self._set(sampler.name, "unavailable", why_not)
                    health.skip = MAX_BACKOFF_WINDOWS
                    status[sampler.name] = {"state": "unavailable", "reason": why_not}
                    continue
                fragment = sampler.sample(ctx)
            except Exception as exc:  # a sampler bug must not take the agent down
                health.failures += 1
                health.skip = min(2 ** (health.failures - 1), MAX_BACKOFF_WINDOWS) - 1
                reason = f"{type(exc).__name__}: {exc}"[:300]
                self._set(sampler.name, "error", reason)
                status[sampler.name] = {"state": "error", "reason": reason}
                continue
            health.failures = 0
            self._set(sampler.name, "ok")
            status[sampler.name] = {"state": "ok"}
            for key, value in fragment.items():
                if isinstance(value, dict) and isinstance(body.get(key), dict):
                    body[key].update(value)
                elif isinstance(value, list) and isinstance(body.get(key), list):
                    body[key].extend(value)
                else:
                    body[key] = value
        body["samplers"] = status
        return body
