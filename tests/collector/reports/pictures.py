"""PDF pages as PNG files (poppler's ``pdftoppm``) and a small PNG reader to look at their pixels.

Enough PNG for what ``pdftoppm -png`` writes: 8-bit samples, non-interlaced; the five row
filters undone by hand (no imaging library needed).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path


def pdf_to_png(pdf: Path, out: Path, dpi: int = 40) -> list[Path]:
    """Each page of ``pdf`` as ``out/page-N.png``, in page order."""
    binary = shutil.which("pdftoppm")
    if binary is None:
        raise RuntimeError("pdftoppm missing (apt-get install poppler-utils; scripts/system-deps.sh)")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([binary, "-png", "-r", str(dpi), str(pdf), str(out / "page")], check=True, timeout=120)
    return sorted(out.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))


def pixels(png: Path) -> tuple[int, int, bytes]:
    """(width, height, samples) of an 8-bit greyscale, RGB or RGBA PNG (samples row by row)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = {0: 1, 2: 3, 6: 4}.get(colour)
    assert depth == 8 and bpp, f"{png}: want 8-bit grey, RGB or RGBA, got depth {depth} colour type {colour}"
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, b"".join(rows)


def ink(png: Path) -> float:
    """The share of a page's pixels that are not white (0 for a blank page)."""
    *_, samples = pixels(png)
    return sum(1 for p in samples if p < 240) / len(samples)
