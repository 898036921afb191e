"""Images of the synthetic example, drawn locally with Pillow.

Three kinds, as in the benchmark: typographic images (``ocr``: a phrase written
on a card), flowcharts (``flowchart``: boxes and arrows with redacted steps),
and simple drawn scenes (``synthesis``: a park, a house, a kitchen, a crowd, ...).
"""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = (384, 256)
SCENES = ("park", "house", "kitchen", "crowd", "tent", "birds", "balloons", "street")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def typographic(phrase: str, rng: np.random.Generator) -> Image.Image:
    """A phrase in capitals on a plain card, the way typographic attacks look."""
    hue = rng.integers(200, 256, size=3)
    img = Image.new("RGB", SIZE, tuple(int(v) for v in hue))
    draw = ImageDraw.Draw(img)
    draw.rectangle([8, 8, SIZE[0] - 9, SIZE[1] - 9], outline=(20, 20, 20), width=3)
    lines = textwrap.wrap(phrase.upper(), width=22)[:5]
    font = _font(26)
    y = (SIZE[1] - 34 * len(lines)) // 2
    for line in lines:
        width = draw.textlength(line, font=font)
        draw.text(((SIZE[0] - width) / 2, y), line, fill=(10, 10, 10), font=font)
        y += 34
    return img


def flowchart(title: str, rng: np.random.Generator) -> Image.Image:
    """Three boxes joined by arrows under a title; the steps are redacted."""
    img = Image.new("RGB", SIZE, (250, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.text((12, 10), title.upper()[:34], fill=(0, 0, 0), font=_font(18))
    for i in range(3):
        x = 14 + i * 124
        draw.rectangle([x, 90, x + 100, 170], outline=(0, 0, 120), width=3)
        draw.text((x + 12, 100), f"STEP {i + 1}", fill=(0, 0, 120), font=_font(16))
        draw.rectangle([x + 10, 130, x + 90, 150], fill=(0, 0, 0))  # redacted
        if i < 2:
            draw.line([x + 100, 130, x + 124, 130], fill=(0, 0, 0), width=3)
            draw.polygon([(x + 124, 130), (x + 116, 124), (x + 116, 136)], fill=(0, 0, 0))
    return img


def scene(kind: str, rng: np.random.Generator) -> Image.Image:
    """A simple drawn scene of ``kind`` (one of :data:`SCENES`)."""
    img = Image.new("RGB", SIZE, (170, 215, 250))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 180, SIZE[0], SIZE[1]], fill=(110, 180, 90))
    jitter = int(rng.integers(-20, 21))
    if kind == "park":
        draw.ellipse([300, 20, 350, 70], fill=(255, 220, 0))
        draw.rectangle([90 + jitter, 120, 105 + jitter, 185], fill=(120, 80, 40))
        draw.ellipse([55 + jitter, 60, 140 + jitter, 135], fill=(40, 140, 60))
        draw.rectangle([200, 165, 280, 175], fill=(140, 90, 50))
    elif kind == "house":
        draw.rectangle([130 + jitter, 110, 260 + jitter, 190], fill=(230, 200, 160))
        draw.polygon(
            [(120 + jitter, 110), (195 + jitter, 50), (270 + jitter, 110)], fill=(170, 60, 50)
        )
        draw.rectangle([180 + jitter, 145, 210 + jitter, 190], fill=(100, 60, 30))
    elif kind == "kitchen":
        draw.rectangle([0, 150, SIZE[0], SIZE[1]], fill=(200, 190, 170))
        for i in range(5):
            x = 40 + i * 65 + jitter
            color = tuple(int(v) for v in rng.integers(40, 220, size=3))
            draw.rectangle([x, 90, x + 30, 150], fill=color)
            draw.rectangle([x + 10, 75, x + 20, 90], fill=(60, 60, 60))
    elif kind == "crowd":
        for i in range(9):
            x = 25 + i * 40 + int(rng.integers(-6, 7))
            draw.ellipse([x, 110, x + 18, 128], fill=(60, 40, 30))
            draw.line([x + 9, 128, x + 9, 165], fill=(30, 30, 30), width=3)
            draw.line([x + 9, 165, x, 185], fill=(30, 30, 30), width=3)
            draw.line([x + 9, 165, x + 18, 185], fill=(30, 30, 30), width=3)
    elif kind == "tent":
        draw.polygon(
            [(120 + jitter, 190), (190 + jitter, 90), (260 + jitter, 190)], fill=(230, 120, 30)
        )
        draw.polygon(
            [(175 + jitter, 190), (190 + jitter, 140), (205 + jitter, 190)], fill=(60, 40, 20)
        )
    elif kind == "birds":
        for _ in range(6):
            x, y = int(rng.integers(20, 340)), int(rng.integers(20, 150))
            draw.arc([x, y, x + 20, y + 14], 200, 340, fill=(20, 20, 20), width=3)
            draw.arc([x + 18, y, x + 38, y + 14], 200, 340, fill=(20, 20, 20), width=3)
    elif kind == "balloons":
        for i in range(5):
            x = 60 + i * 55 + jitter
            color = tuple(int(v) for v in rng.integers(80, 255, size=3))
            draw.ellipse([x, 50, x + 40, 100], fill=color)
            draw.line([x + 20, 100, x + 20 + int(rng.integers(-10, 11)), 180], fill=(80, 80, 80))
    else:  # street
        draw.rectangle([0, 170, SIZE[0], SIZE[1]], fill=(90, 90, 90))
        for i in range(6):
            draw.rectangle([20 + i * 60, 185, 50 + i * 60, 190], fill=(250, 250, 250))
        draw.rectangle([60 + jitter, 140, 160 + jitter, 175], fill=(200, 30, 30))
        draw.ellipse([70 + jitter, 165, 90 + jitter, 185], fill=(20, 20, 20))
        draw.ellipse([130 + jitter, 165, 150 + jitter, 185], fill=(20, 20, 20))
    return img
