"""Oversized images are refused from their header, before any pixel is decoded."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` (a few bytes on disk): what a
    decompression bomb looks like to a reader that trusts the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("size", "said"),
    [
        ((20_000, 20_000), "too large to decode safely"),  # Pillow's own bomb limit
        ((8_000, 8_000), "8000 x 8000 pixels, more than the 40,000,000"),  # ours
    ],
)
def test_oversized_image_is_refused_without_decoding(example, tmp_path, size, said):
    images = tmp_path / "images"
    shutil.copytree(example.images, images)
    items = pd.read_csv(example.items, dtype=str, keep_default_na=False)
    _png_header_only(images / items.loc[3, "open_url"], *size)
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "-w", str(tmp_path / "ws"), "ingest", "items",
         str(example.items), "--images", str(images)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert said in done.stderr and items.loc[3, "open_url"] in done.stderr
    assert not (tmp_path / "ws" / "safecal.sqlite").exists() or "120" not in done.stdout
