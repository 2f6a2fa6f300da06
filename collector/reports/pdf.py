"""HTML to PDF with headless Chromium's ``--print-to-pdf``.

Why Chromium: the browser tests already need it (``scripts/system-deps.sh`` installs the
Debian ``chromium`` package on a fresh machine), it renders the same HTML and inline SVG
the operator sees in the web UI (CSS, fonts, charts) with no second layout engine to keep
in step, and it needs no Python package. Pure-Python PDF libraries would mean drawing the
report twice (once as HTML, once as PDF primitives); WeasyPrint pulls Pango and Cairo.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
)  # fmt: skip


class PdfError(RuntimeError):
    """No browser to print with, or it failed."""


def chromium() -> str | None:
    """The Chromium binary, or ``None``."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


async def html_to_pdf(html: str, timeout: float = 120.0) -> bytes:
    """The PDF of ``html`` (a self-contained page: inline CSS and SVG, no network)."""
    binary = chromium()
    if binary is None:
        raise PdfError("no chromium to print the PDF with (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="hs-pdf-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            binary, *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", page.as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise PdfError(f"chromium did not print the PDF within {timeout:g} s") from exc
        if proc.returncode != 0 or not out.exists():
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise PdfError(f"chromium failed to print the PDF (exit {proc.returncode}): {' | '.join(tail)}")
        return out.read_bytes()
