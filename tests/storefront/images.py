"""Small images made with Pillow for logo uploads."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (217, 72, 15)).save(buffer, format=fmt)
    return buffer.getvalue()


def png_bytes() -> bytes:
    return image_bytes("PNG")
