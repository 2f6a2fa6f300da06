"""One report end to end: gather the figures, render HTML, print the PDF, write the CSVs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.profiles.config import ProfilesConfig
from collector.reports.document import render
from collector.reports.export import csv_text
from collector.reports.figures import gather
from collector.reports.pdf import html_to_pdf
from collector.reports.period import Period
from collector.reports.tables import Report

HTML, PDF = "report.html", "report.pdf"


@dataclass(slots=True)
class Built:
    """A rendered report: its figures and its files (name -> bytes)."""

    report: Report
    files: dict[str, bytes] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def csv_names(self) -> list[str]:
        return [n for n in self.files if n.endswith(".csv")]

    def write(self, out: Path) -> list[Path]:
        """Write every file into ``out`` (created); the paths written."""
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in self.files.items():
            path = out / name
            path.write_bytes(data)
            paths.append(path)
        return paths


async def build(store: Any, period: Period, config: ProfilesConfig, *, pdf: bool = True) -> Built:
    """The report of ``period``: HTML, PDF (unless ``pdf=False``) and one CSV per table."""
    t0 = time.monotonic()
    report = await gather(store, period, config)
    built = Built(report)
    built.seconds["gather"] = round(time.monotonic() - t0, 3)
    html = render(report)
    built.files[HTML] = html.encode("utf-8")
    for name, table in report.tables.items():
        built.files[f"{name}.csv"] = csv_text([c.heading for c in table.columns], table.values()).encode(
            "utf-8"
        )
    t1 = time.monotonic()
    if pdf:
        built.files[PDF] = await html_to_pdf(html)
    built.seconds["pdf"] = round(time.monotonic() - t1, 3)
    built.seconds["total"] = round(time.monotonic() - t0, 3)
    return built
