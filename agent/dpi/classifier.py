"""Hostname -> application -> category, from the project's own domain table (``domains.tsv``).

Lookup walks a name's suffixes from the longest (``r3---sn-x.googlevideo.com``, ``sn-x.googlevideo.com``,
``googlevideo.com``, ``com``), so the most specific entry wins (``music.youtube.com`` before
``youtube.com``). Wildcard patterns (``*-buy.itunes.apple.com``, ``pinterest.*``) are tried first, most
literal labels first. Flows with no name fall back to port rules, then to ``web`` for web ports and
``other`` for the rest. The operator's own domains come from agent configuration and win over the table.

File format: see the header of ``domains.tsv`` and ``docs/dpi.md``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from agent.dpi import DpiError
from protocol.categories import CATEGORIES  # owned by the protocol: append-only

WEB_PORTS = frozenset({80, 443, 8080, 8443})
# Packaged tables, loaded in order: the hand-reviewed table, then the imported ones (scripts/import_domains.py).
PACKAGED_TABLES = ("domains.tsv", "domains_v2fly.tsv", "domains_ndpi.tsv")
OPERATOR_APP = "operator"
_LABEL = re.compile(r"^[a-z0-9_*-]+(\.[a-z0-9_*-]+)*$")
_APP_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Verdict:
    """An application id (lower_snake) and its category; ``app`` is None when only a default applied."""

    app: str | None
    category: str
    pattern: bool = False  # named by a wildcard pattern (a CDN host whose label names the app)


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    literal_labels: int
    app: str
    tail: str  # the literal labels after the last wildcard one ("" when the last label is a wildcard)


class Classifier:
    """The loaded domain table plus the operator's domains."""

    def __init__(
        self,
        table_text: str | None = None,
        operator_domains: Iterable[str] = (),
        extra_tables: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Load the packaged tables (or ``table_text`` instead), then each ``(name, text)`` of
        ``extra_tables``: the operator's own files, whose domains override the packaged ones."""
        tables: list[tuple[str, str, bool]] = []
        if table_text is None:
            package = resources.files("agent.dpi")
            for name in PACKAGED_TABLES:
                tables.append((name, package.joinpath(name).read_text(encoding="utf-8"), False))
        else:
            tables.append(("domains.tsv", table_text, False))
        tables.extend((name, text, True) for name, text in extra_tables)
        self.categories: dict[str, str] = {}
        self._override = False
        self._suffixes: dict[str, str] = {}
        self._patterns: list[_Pattern] = []
        self._ports: dict[tuple[str, int], str] = {}
        # (network, transport or None, server ports or None, app): the first match wins, in table order.
        self._nets: list[
            tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str | None, frozenset[int] | None, str]
        ] = []
        for name, text, override in tables:
            self._load(text, name, override)
        self._patterns.sort(key=lambda p: -p.literal_labels)
        # Patterns indexed by their literal tail ("akamaized.net" for "*tiktok*.akamaized.net"), so a lookup
        # tries only those whose tail the name ends with, plus the few whose last label is a wildcard.
        self._pattern_tails: dict[str, list[_Pattern]] = {}
        self._pattern_any: list[_Pattern] = []
        for pattern in self._patterns:
            if pattern.tail:
                self._pattern_tails.setdefault(pattern.tail, []).append(pattern)
            else:
                self._pattern_any.append(pattern)
        for domain in operator_domains:
            name = domain.strip().lower().lstrip(".")
            if name:
                self._suffixes[name] = OPERATOR_APP
        self.categories.setdefault(OPERATOR_APP, "operator")

    def _load(self, text: str, name: str = "domains.tsv", override: bool = False) -> None:
        self._override = override
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split("\t")
            fields = [f.strip() for f in fields if f.strip()]
            try:
                if fields[0] == "@port":
                    self._load_ports(fields[1:])
                elif fields[0] == "@net":
                    self._load_nets(fields[1:])
                else:
                    self._load_app(fields)
            except (IndexError, ValueError) as exc:
                raise DpiError(f"{name} line {number}: {exc or 'missing field'}: {raw!r}") from exc

    def _load_app(self, fields: list[str]) -> None:
        app, category = fields[0], fields[1]
        if not _APP_ID.match(app):
            raise ValueError(f"app id {app!r} is not lower_snake")
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        if self.categories.setdefault(app, category) != category:
            raise ValueError(f"app {app} already has category {self.categories[app]}")
        for listed in " ".join(fields[2:]).split():
            if listed == "-":
                continue
            domain = listed.lower()
            if not _LABEL.match(domain):
                raise ValueError(f"bad domain {domain!r}")
            if "*" in domain:
                self._patterns.append(_compile_pattern(domain, app))
            elif self._override:
                self._suffixes[domain] = (
                    app  # the operator's file names its own hosts, over the packaged tables
                )
            elif self._suffixes.setdefault(domain, app) != app:
                raise ValueError(f"domain {domain} listed for both {self._suffixes[domain]} and {app}")

    def _load_ports(self, fields: list[str]) -> None:
        app, proto = fields[0], fields[1].lower()
        if app not in self.categories:
            raise ValueError(f"@port for undeclared app {app}")
        if proto not in ("tcp", "udp"):
            raise ValueError(f"protocol {proto!r} is not tcp or udp")
        for spec in " ".join(fields[2:]).split():
            low, _, high = spec.partition("-")
            for port in range(int(low), int(high or low) + 1):
                if self._ports.setdefault((proto, port), app) != app:
                    raise ValueError(f"{proto} port {port} listed for two apps")

    def _load_nets(self, fields: list[str]) -> None:
        app = fields[0]
        if app not in self.categories:
            raise ValueError(f"@net for undeclared app {app}")
        l4: str | None = None
        ports: frozenset[int] | None = None
        transport, _, port_list = fields[1].lower().partition(":")
        if transport in ("tcp", "udp"):
            l4, fields = transport, fields[1:]
            if port_list:
                ports = frozenset(int(port) for port in port_list.split(","))
        for spec in " ".join(fields[1:]).split():
            self._nets.append((ipaddress.ip_network(spec), l4, ports, app))

    def _verdict(self, app: str) -> Verdict:
        return Verdict(app, self.categories[app])

    def by_host(self, host: str) -> Verdict | None:
        """The application a hostname belongs to, or None if the table does not know it.

        The entry covering the most labels of the name wins; on a tie a plain suffix beats a pattern.
        """
        name = host.lower().rstrip(".")
        best_app: str | None = None
        best_labels = 0
        by_pattern = False
        labels = name.split(".")
        for i in range(len(labels)):
            app = self._suffixes.get(".".join(labels[i:]))
            if app is not None:
                best_app, best_labels = app, len(labels) - i
                break
        candidates = list(self._pattern_any)
        for i in range(len(labels)):
            candidates.extend(self._pattern_tails.get(".".join(labels[i:]), ()))
            candidates.extend(self._pattern_tails.get("^" + labels[i], ()))
        if len(candidates) > 1:
            candidates.sort(key=lambda p: -p.literal_labels)
        for pattern in candidates:
            if pattern.literal_labels < best_labels:
                break  # sorted by literal labels: no later pattern can cover more of the name
            found = pattern.regex.search(name)
            if found is not None:
                covered = name[found.start() :].lstrip(".").count(".") + 1
                if covered > best_labels:
                    best_app, best_labels, by_pattern = pattern.app, covered, True
        return None if best_app is None else Verdict(best_app, self.categories[best_app], by_pattern)

    def by_port(self, l4: str, port: int) -> Verdict | None:
        """The application a server port is documented for, or None."""
        app = self._ports.get((l4, port))
        return None if app is None else self._verdict(app)

    def by_address(self, packed: bytes, l4: str, port: int | None = None) -> Verdict | None:
        """The application whose published address ranges hold ``packed`` (for this transport and server
        port, where the rule names ports), or None."""
        if not self._nets:
            return None
        address = ipaddress.ip_address(packed)
        for network, only, ports, app in self._nets:
            if (
                address.version == network.version
                and (only is None or only == l4)
                and (ports is None or port in ports)
                and address in network
            ):
                return self._verdict(app)
        return None

    def default(self, l4: str, port: int, web_protocol: bool) -> Verdict:
        """Category for a flow nothing named: ``web`` on web ports or TLS/QUIC/HTTP, else ``other``."""
        if web_protocol or (port in WEB_PORTS):
            return Verdict(None, "web")
        return Verdict(None, "other")

    def app_category(self, app: str) -> str | None:
        """The category of a known application id."""
        return self.categories.get(app)


def _compile_pattern(domain: str, app: str) -> _Pattern:
    literal = sum(1 for label in domain.split(".") if "*" not in label)
    parts = domain.split(".")
    wild = [i for i, label in enumerate(parts) if "*" in label]
    tail = ".".join(parts[wild[-1] + 1 :]) if wild else domain
    if parts[-1] == "*" and len(parts) > 1 and "*" not in parts[-2]:
        tail = "^" + parts[-2]  # "pinterest.*": indexed by the label before the TLD (see Classifier.by_host)
    suffix = ""
    if parts[-1] == "*":
        # "name.*": any top-level domain, or a country's "co.xx"/"com.xx"-style second-level suffix.
        parts = parts[:-1]
        suffix = r"\.(?:(?:co|com|net|org|gov|edu|ac|or|ne|go)\.[a-z]{2}|[a-z]{2,6})"
    body = r"\.".join(re.escape(p).replace(r"\*", "[a-z0-9-]*") for p in parts)
    return _Pattern(re.compile(rf"(^|\.){body}{suffix}$"), literal, app, tail)
