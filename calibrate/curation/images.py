"""Image fingerprints for telling "same text, same image" from "same text, other image".

Difference hash (N. Krawetz, "Kind of like that", hackerfactor.com 2013): the
image in grey, shrunk to (size+1) x size, one bit per pixel for "brighter than
its right neighbour"; two images are near-identical when their hashes differ
in few bits (Hamming distance). With size 16 the hash has 256 bits. Pillow does
the resizing; the hash itself is three lines and no installed library provides
it (imagehash is not a dependency), hence written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HASH_BITS = 256


def difference_hash(path: str | Path, *, size: int = 16) -> int | None:
    """The ``size*size``-bit difference hash of an image, or None if it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            small = image.convert("L").resize((size + 1, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(small, dtype=np.int16)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    bits = (pixels[:, 1:] > pixels[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    """Number of differing bits."""
    return int(bin(a ^ b).count("1"))
