"""Erasure and retention for the files homescope writes: the report archive and the drop folder.

Two kinds of file name homes:

- the **report archive** (``report_files``: each report's HTML, PDF and one CSV per table, as
  blobs in the store). Reports are aggregates, but some tables list homes (the homes whose
  Wi-Fi got worse). Erasing a home rewrites every archived file that names it: CSV rows naming
  it are dropped, HTML table rows naming it are dropped and any other mention becomes
  ``[erased]``, and the PDF of a rewritten report is printed again from its rewritten HTML
  (or, with no Chromium to print with, removed: the archive page lists what is left);
- the **drop folder** of the file sender (``HOMESCOPE_SENDER=file:DIR``): CSV batches of
  campaign messages for the operator's SMS or e-mail gateway, one row per subscriber. Erasing
  a home drops its rows from every batch still there (a batch left empty is deleted), and
  batches older than ``retention_files_days`` are deleted by the retention loop: the pick-up
  has had them long before.

Files written by ``homescope-collector report --out DIR`` are the operator's own copies in a
folder homescope does not manage; docs/security.md says so and points to ``--archive``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from collector.store.sql import Database, Statement

ERASED = "[erased]"
BOM = "\ufeff"
PdfPrinter = Callable[[str], Awaitable[bytes]]


def _pattern(identifiers: list[str]) -> re.Pattern[str]:
    # whole identifiers only: erasing rep-00001 must not touch rep-000010
    alternatives = "|".join(re.escape(i) for i in sorted(identifiers, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def names(text: str, identifiers: list[str]) -> bool:
    """Whether ``text`` names one of ``identifiers`` (as a whole word)."""
    return bool(identifiers) and _pattern(identifiers).search(text) is not None


def rewrite_csv(text: str, identifiers: list[str]) -> tuple[str, int]:
    """The CSV without the rows naming a home (header and BOM kept), and how many went."""
    found = _pattern(identifiers)
    bom = BOM if text.startswith(BOM) else ""
    rows = list(csv.reader(io.StringIO(text[len(bom) :], newline="")))
    kept = rows[:1] + [r for r in rows[1:] if not any(found.search(cell) for cell in r)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(kept)
    return bom + out.getvalue(), len(rows) - len(kept)


_ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.S | re.I)


def redact_html(text: str, identifiers: list[str]) -> tuple[str, int]:
    """The page without the table rows naming a home, other mentions replaced; rows dropped."""
    found = _pattern(identifiers)
    dropped = 0

    def row(m: re.Match[str]) -> str:
        nonlocal dropped
        if found.search(m.group(0)):
            dropped += 1
            return ""
        return m.group(0)

    text = _ROW.sub(row, text)
    return found.sub(ERASED, text), dropped


@dataclass
class FileErasure:
    """What an erase did to files: rows dropped per file, files rewritten, removed or reprinted."""

    rows: dict[str, int] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    reprinted: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def erase_report_files(
    db: Database, identifiers: list[str], print_pdf: PdfPrinter | None, done: FileErasure | None = None
) -> FileErasure:
    """Rewrite every archived report file naming a home (see the module's docstring)."""
    done = done or FileErasure()
    names_of: dict[str, list[str]] = {}
    for r in await db.fetch(
        "SELECT report_name, file_name FROM report_files ORDER BY report_name, file_name"
    ):
        names_of.setdefault(str(r["report_name"]), []).append(str(r["file_name"]))
    for report, files in names_of.items():
        touched = False
        for file_name in files:
            if file_name.endswith(".pdf"):
                continue
            row = await db.fetch_one(
                "SELECT data FROM report_files WHERE report_name = ? AND file_name = ?", (report, file_name)
            )
            assert row is not None  # listed just above, in this erase
            text = bytes(row["data"]).decode("utf-8")
            if not names(text, identifiers):
                continue
            if file_name.endswith(".csv"):
                text, dropped = rewrite_csv(text, identifiers)
            else:
                text, dropped = redact_html(text, identifiers)
            data = text.encode("utf-8")
            await db.execute(Statement(
                "UPDATE report_files SET data = ?, size = ? WHERE report_name = ? AND file_name = ?",
                (data, len(data), report, file_name)))  # fmt: skip
            done.rows[f"report {report}/{file_name}"] = dropped
            touched = True
        if touched and "report.pdf" in files:
            await _reprint(db, report, print_pdf, done)
    return done


async def _reprint(db: Database, report: str, print_pdf: PdfPrinter | None, done: FileErasure) -> None:
    # the PDF is printed from the report's HTML: print it again from the rewritten one
    row = await db.fetch_one(
        "SELECT data FROM report_files WHERE report_name = ? AND file_name = 'report.html'", (report,)
    )
    html = bytes(row["data"]).decode("utf-8") if row else None
    pdf: bytes | None = None
    if html is not None and print_pdf is not None:
        try:
            pdf = await print_pdf(html)
        except Exception:  # no browser or it failed: the PDF naming the home must not stay
            pdf = None
    if pdf is None:
        await db.execute(Statement(
            "DELETE FROM report_files WHERE report_name = ? AND file_name = 'report.pdf'", (report,)))  # fmt: skip
        done.removed.append(f"report {report}/report.pdf")
        return
    await db.execute(Statement(
        "UPDATE report_files SET data = ?, size = ? WHERE report_name = ? AND file_name = 'report.pdf'",
        (pdf, len(pdf), report)))  # fmt: skip
    done.reprinted.append(f"report {report}/report.pdf")


def drop_folder(spec: str | None = None) -> Path | None:
    """The file sender's drop folder (``HOMESCOPE_SENDER=file:DIR``), or ``None``."""
    spec = os.environ.get("HOMESCOPE_SENDER", "") if spec is None else spec
    return Path(spec[len("file:") :]) if spec.startswith("file:") else None


def erase_drop_files(
    folder: Path | None, identifiers: list[str], done: FileErasure | None = None
) -> FileErasure:
    """Drop the rows naming a home from every batch in the drop folder; delete emptied batches."""
    done = done or FileErasure()
    if folder is None or not folder.is_dir():
        return done
    for path in sorted(folder.glob("*.csv")):
        text = path.read_text(encoding="utf-8")
        if not names(text, identifiers):
            continue
        kept, dropped = rewrite_csv(text, identifiers)
        done.rows[str(path)] = dropped
        if kept.count("\n") <= 1:  # the header alone
            path.unlink()
            done.removed.append(str(path))
            continue
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(kept, encoding="utf-8", newline="")
        os.replace(tmp, path)  # the pick-up never sees half a file
    return done


def expire_drop_files(folder: Path | None, days: int, now: float | None = None) -> int:
    """Delete batches (and stale ``.part`` files) older than ``days``; how many."""
    if folder is None or not folder.is_dir():
        return 0
    cut = (now if now is not None else time.time()) - days * 86400
    gone = 0
    for path in [*folder.glob("*.csv"), *folder.glob("*.csv.part")]:
        if path.stat().st_mtime < cut:
            path.unlink(missing_ok=True)
            gone += 1
    return gone
