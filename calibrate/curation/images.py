"""Image fingerprints for telling "same text, same image" from "same text, other image".

Average hash (Kawakami / Krawetz, "Looks like it", hackerfactor.com 2011): the
image in grey, shrunk to 8 x 8, one bit per pixel for "brighter than the mean";
two images are near-identical when their 64-bit hashes differ in few bits
(Hamming distance). Pillow provides the resizing; the hash itself is four lines
and no installed library provides it, hence written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def average_hash(path: str | Path, *, size: int = 8) -> int | None:
    """The ``size*size``-bit average hash of an image, or None if it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            small = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(small, dtype=np.float64).ravel()
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    bits = pixels > pixels.mean()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    """Number of differing bits."""
    return int(bin(a ^ b).count("1"))
