"""Import public domain lists into the DPI's imported domain tables.

    python scripts/import_domains.py --source DIR [--map scripts/v2fly_map.tsv]
                                     [--base agent/dpi/domains.tsv] [--out agent/dpi/domains_v2fly.tsv]
    python scripts/import_domains.py --ndpi FILE --commit SHA      (nDPI's host table, see below)

``DIR`` holds the lists (``DIR/data/<list>``, as in a checkout of https://github.com/v2fly/domain-list-community,
MIT licence) and optionally ``DIR/COMMITS`` (``<list> TAB <commit>`` lines) naming the commit each list was
read at. The reviewed map (``--map``) says which lists become which of our applications and categories:

    <list> TAB <app_id> TAB <category>        a list and, recursively, the lists it includes
    @exclude TAB <domain> [<domain> ...]      domains never imported (errors in a list, shared infrastructure)

A list included by a mapped list goes to the including app unless it is mapped itself. Imported: plain and
``domain:`` lines (suffixes), ``full:`` lines (exact hosts, matched as suffixes by the classifier). Skipped and
counted: ``keyword:``/``regexp:`` lines, anything tagged ``@ads``, domains the hand-reviewed base table already
lists (the base table wins: it is reviewed line by line), and domains already covered there by a suffix with the
same app. The output is regenerated whole; never hand-edit it: fix the map or the base table and re-run.

``--ndpi FILE`` reads nDPI's host table instead (``host_match[]`` of ntop/nDPI
``src/lib/ndpi_content_match.c.inc``, LGPL-3.0: the host names and the application nDPI gives them are taken as
facts, no code), either the C file itself or ``<pattern> TAB <nDPI app>`` lines, maps the applications through
``scripts/ndpi_map.tsv`` and writes ``agent/dpi/domains_ndpi.tsv``; both other tables are its base. nDPI's
patterns become ours: ``name.`` (any TLD) -> ``name.*``, ``-name.tld`` (a label ending so) -> ``*-name.tld``;
substring patterns (``name-``) and very short ones are skipped.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_DOMAIN = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
_APP_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Mapping:
    """One reviewed line of the map: a community list becomes one of our apps."""

    source: str
    app: str
    category: str


@dataclass
class Report:
    """What an import did, for the summary and the output header."""

    imported: dict[str, list[str]] = field(default_factory=dict)  # app -> domains, in first-seen order
    categories: dict[str, str] = field(default_factory=dict)
    lists_read: dict[str, str] = field(default_factory=dict)  # list -> commit ("" when not recorded)
    missing: set[str] = field(default_factory=set)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one skipped entry."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class DomainImportError(Exception):
    """A map or list that cannot be imported (named by file and line)."""


def read_map(path: Path, categories: Iterable[str]) -> tuple[list[Mapping], set[str]]:
    """The reviewed map: its mappings in order, and the excluded domains."""
    known = set(categories)
    mappings: list[Mapping] = []
    excluded: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split("\t") if f.strip()]
        if fields[0] == "@exclude":
            excluded.update(d.lower() for d in " ".join(fields[1:]).split())
            continue
        if len(fields) != 3:
            raise DomainImportError(f"{path}:{number}: expected <list> TAB <app> TAB <category>: {raw!r}")
        source, app, category = fields
        if not _APP_ID.match(app):
            raise DomainImportError(f"{path}:{number}: app id {app!r} is not lower_snake")
        if category not in known:
            raise DomainImportError(f"{path}:{number}: unknown category {category!r}")
        mappings.append(Mapping(source, app, category))
    return mappings, excluded


def read_base(*paths: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The tables already loaded before the output: domain or pattern -> app, and app -> category."""
    domains: dict[str, str] = {}
    categories: dict[str, str] = {}
    for path in paths:
        for raw in path.read_text(encoding="utf-8").splitlines():
            fields = [f.strip() for f in raw.split("#", 1)[0].split("\t") if f.strip()]
            if len(fields) < 2 or fields[0].startswith("@"):
                continue
            categories.setdefault(fields[0], fields[1])
            for domain in " ".join(fields[2:]).split():
                if domain != "-":
                    domains.setdefault(domain.lower(), fields[0])
    return domains, categories


_C_ENTRY = re.compile(r'\{\s*"([^"]+)"\s*,\s*(?:/\*.*?\*/\s*)?"([^"]+)"')
_PATTERN = re.compile(r"^[a-z0-9_*-]+(\.[a-z0-9_*-]+)*$")


def read_ndpi_hosts(path: Path) -> list[tuple[str, str]]:
    """(pattern, nDPI application) pairs from nDPI's host_match[] (the C file) or from TSV lines."""
    text = path.read_text(encoding="utf-8")
    pairs: list[tuple[str, str]] = []
    if "ndpi_protocol_match host_match[]" in text:
        start = text.index("ndpi_protocol_match host_match[]")
        end = text.find("};", start)
        return [(m.group(1).lower(), m.group(2)) for m in _C_ENTRY.finditer(text[start:end])]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            host, _, app = line.partition("\t")
            pairs.append((host.strip().lower(), app.strip()))
    return pairs


def ndpi_pattern(pattern: str) -> str | None:
    """nDPI's host pattern in our table's syntax, or None when it has no equivalent."""
    if pattern.endswith("-") or pattern.startswith("."):
        return None  # a substring match anywhere: no label-bounded equivalent
    if pattern.startswith("-"):
        pattern = "*" + pattern
    if pattern.endswith("."):
        pattern += "*"
    literal = pattern.replace("*", "").strip(".-")
    if len(literal) < 4 or not _PATTERN.match(pattern):
        return None
    return pattern


def import_ndpi(
    pairs: list[tuple[str, str]],
    mappings: list[Mapping],
    excluded: set[str],
    base_domains: dict[str, str],
    base_categories: dict[str, str],
    commit: str,
) -> Report:
    """nDPI's hosts of every mapped application, skipping what the base tables already say."""
    report = Report()
    report.lists_read["host_match"] = commit
    mapped = {m.source: m for m in mappings}
    claimed: dict[str, str] = {}
    for mapping in mappings:
        if base_categories.get(mapping.app, mapping.category) != mapping.category:
            raise DomainImportError(
                f"{mapping.source}: app {mapping.app} is {base_categories[mapping.app]} in "
                f"the base tables, not {mapping.category}"
            )
        report.categories[mapping.app] = mapping.category
        report.imported.setdefault(mapping.app, [])
    for raw, ndpi_app in pairs:
        mapping = mapped.get(ndpi_app)
        if mapping is None:
            report.skip("application not mapped")
            continue
        pattern = ndpi_pattern(raw)
        if pattern is None:
            report.skip("substring or too short a pattern")
        elif raw in excluded or pattern in excluded:
            report.skip("excluded by the map")
        elif pattern in base_domains or ("*" not in pattern and _covered(pattern, mapping.app, base_domains)):
            report.skip("already in the base tables")
        elif claimed.setdefault(pattern, mapping.app) != mapping.app:
            report.skip("named for two applications")
        elif pattern not in report.imported[mapping.app]:
            report.imported[mapping.app].append(pattern)
    report.imported = {app: domains for app, domains in report.imported.items() if domains}
    return report


def list_entries(source_dir: Path, name: str, report: Report) -> list[tuple[str, str]] | None:
    """(kind, value) entries of one list file: kind is ``domain``, ``full``, ``include`` or a skipped kind."""
    path = source_dir / "data" / name
    if not path.is_file():
        report.missing.add(name)
        return None
    commits = _commits(source_dir)
    report.lists_read[name] = commits.get(name, "")
    entries: list[tuple[str, str]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].replace("＃", "").strip()
        if not line:
            continue
        value, *attributes = line.split()
        if "@ads" in attributes:
            report.skip("tagged @ads")
            continue
        kind, sep, rest = value.partition(":")
        if not sep:
            kind, rest = "domain", value
        entries.append((kind, rest.lower()))
    return entries


_COMMIT_CACHE: dict[Path, dict[str, str]] = {}


def _commits(source_dir: Path) -> dict[str, str]:
    if source_dir not in _COMMIT_CACHE:
        path = source_dir / "COMMITS"
        table: dict[str, str] = {}
        if path.is_file():
            for raw in path.read_text(encoding="utf-8").splitlines():
                name, _, commit = raw.strip().partition("\t")
                if name and commit:
                    table[name] = commit.strip()
        _COMMIT_CACHE[source_dir] = table
    return _COMMIT_CACHE[source_dir]


def import_lists(
    source_dir: Path,
    mappings: list[Mapping],
    excluded: set[str],
    base_domains: dict[str, str],
    base_categories: dict[str, str],
) -> Report:
    """Resolve every mapped list (and its includes) into app -> domains, skipping what the base covers."""
    report = Report()
    mapped = {m.source: m for m in mappings}
    claimed: dict[str, str] = {}
    for mapping in mappings:
        if base_categories.get(mapping.app, mapping.category) != mapping.category:
            raise DomainImportError(
                f"{mapping.source}: app {mapping.app} is {base_categories[mapping.app]} in the "
                f"base table, not {mapping.category}"
            )
        report.categories[mapping.app] = mapping.category
        report.imported.setdefault(mapping.app, [])
        _walk(source_dir, mapping.source, mapping, mapped, excluded, base_domains, claimed, report, 0)
    report.imported = {app: domains for app, domains in report.imported.items() if domains}
    return report


def _walk(
    source_dir: Path,
    name: str,
    mapping: Mapping,
    mapped: dict[str, Mapping],
    excluded: set[str],
    base_domains: dict[str, str],
    claimed: dict[str, str],
    report: Report,
    depth: int,
) -> None:
    if depth > _MAX_INCLUDE_DEPTH:
        raise DomainImportError(f"{name}: includes nested deeper than {_MAX_INCLUDE_DEPTH}")
    entries = list_entries(source_dir, name, report)
    for kind, value in entries or ():
        if kind == "include":
            included = value.split()[0]
            if included in mapped and included != mapping.source:
                continue  # that list is an app of its own
            _walk(source_dir, included, mapping, mapped, excluded, base_domains, claimed, report, depth + 1)
        elif kind not in ("domain", "full"):
            report.skip(f"{kind}: lines")
        elif not _DOMAIN.match(value):
            report.skip("not a hostname")
        elif value in excluded:
            report.skip("excluded by the map")
        elif _covered(value, mapping.app, base_domains):
            report.skip("already in the base table")
        elif claimed.setdefault(value, mapping.app) != mapping.app:
            report.skip("claimed by an earlier list")
        elif value not in report.imported[mapping.app]:
            report.imported[mapping.app].append(value)


def _covered(domain: str, app: str, base: dict[str, str]) -> bool:
    """Listed in the base table itself, or under a suffix the base gives the same app."""
    if domain in base:
        return True
    labels = domain.split(".")
    return any(base.get(".".join(labels[i:])) == app for i in range(1, len(labels)))


V2FLY_HEADER = (
    "# Source: {label} (MIT licence, (c) the v2fly community), lists and commits below.",
    "# Mapping to our taxonomy: scripts/v2fly_map.tsv (reviewed). Loaded after domains.tsv, which wins.",
)
NDPI_HEADER = (
    "# Source: {label} (LGPL-3.0; host names and the application nDPI gives them, taken as facts, no code).",
    "# Mapping to our taxonomy: scripts/ndpi_map.tsv (reviewed). Loaded last: domains.tsv and domains_v2fly.tsv win.",
)


def render(report: Report, source_label: str, header: tuple[str, ...] = V2FLY_HEADER) -> str:
    """The imported table's text: a header naming the source, its licence and commits, then one line per app."""
    lines = [
        "# homescope imported domain table: GENERATED by scripts/import_domains.py, do not edit by hand.",
        *(line.format(label=source_label) for line in header),
        "# Format: as domains.tsv (<app_id> TAB <category> TAB <domain> ...).",
        "#",
    ]
    for name in sorted(report.lists_read):
        lines.append(f"# list {name} @ {report.lists_read[name] or 'commit not recorded'}")
    if report.missing:
        lines.append(f"# included but not present in the source: {' '.join(sorted(report.missing))}")
    lines.append("")
    for app in sorted(report.imported):
        domains = report.imported[app]
        for start in range(0, len(domains), 40):
            lines.append(f"{app}\t{report.categories[app]}\t{' '.join(domains[start : start + 40])}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--source", type=Path, help="directory holding data/<list> (and COMMITS)")
    source.add_argument(
        "--ndpi", type=Path, help="nDPI's ndpi_content_match.c.inc, or <pattern> TAB <app> lines"
    )
    parser.add_argument("--commit", default="", help="the nDPI commit the host table was read at (--ndpi)")
    parser.add_argument("--map", type=Path)
    parser.add_argument("--base", type=Path, action="append")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--label")
    args = parser.parse_args(argv)
    dpi = REPO / "agent" / "dpi"
    ndpi = args.ndpi is not None
    map_path = args.map or REPO / "scripts" / ("ndpi_map.tsv" if ndpi else "v2fly_map.tsv")
    bases = args.base or ([dpi / "domains.tsv", dpi / "domains_v2fly.tsv"] if ndpi else [dpi / "domains.tsv"])
    out = args.out or dpi / ("domains_ndpi.tsv" if ndpi else "domains_v2fly.tsv")
    label = args.label or (
        "https://github.com/ntop/nDPI, src/lib/ndpi_content_match.c.inc host_match[]"
        if ndpi
        else "https://github.com/v2fly/domain-list-community, data/"
    )
    sys.path.insert(0, str(REPO))
    from agent.dpi.classifier import CATEGORIES  # the agent package: only for the taxonomy's names

    try:
        mappings, excluded = read_map(map_path, CATEGORIES)
        base_domains, base_categories = read_base(*bases)
        if ndpi:
            report = import_ndpi(
                read_ndpi_hosts(args.ndpi), mappings, excluded, base_domains, base_categories, args.commit
            )
        else:
            report = import_lists(args.source, mappings, excluded, base_domains, base_categories)
    except (DomainImportError, OSError) as exc:
        print(f"import_domains: {exc}", file=sys.stderr)
        return 2
    out.write_text(render(report, label, NDPI_HEADER if ndpi else V2FLY_HEADER), encoding="utf-8")
    total = sum(len(d) for d in report.imported.values())
    print(
        f"import_domains: {total} domains for {len(report.imported)} apps from {len(report.lists_read)} lists"
        f" -> {out}; skipped {dict(sorted(report.skipped.items()))}; missing includes "
        f"{sorted(report.missing) or 'none'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
