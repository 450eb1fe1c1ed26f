"""Draw Chaperone's icons (a shield with a tick) as PNG, with nothing but the standard library.

    python scripts/make_icons.py     # writes manifest/color.png (192x192) and manifest/outline.png (32x32)

The icons are Chaperone's own; this script is how they were made and how to remake them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "manifest"


def png(size: int, pixel) -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y, size)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def in_shield(u: float, v: float) -> bool:
    """u, v in 0..1: a shield, flat-topped, pointed at the bottom."""
    if v < 0.12 or v > 0.92 or u < 0.18 or u > 0.82:
        return False
    if v < 0.6:
        return True
    half = 0.32 * (0.92 - v) / 0.32  # narrows to the point
    return abs(u - 0.5) <= half


def in_tick(u: float, v: float, width: float) -> bool:
    def near(ax, ay, bx, by):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy)))
        return ((u - ax - t * dx) ** 2 + (v - ay - t * dy) ** 2) ** 0.5 <= width

    return near(0.34, 0.5, 0.46, 0.63) or near(0.46, 0.63, 0.68, 0.36)


def color(x: int, y: int, size: int):
    u, v = (x + 0.5) / size, (y + 0.5) / size
    if in_tick(u, v, 0.045) and in_shield(u, v):
        return (255, 255, 255, 255)
    if in_shield(u, v):
        return (31, 111, 92, 255)  # the accent colour
    return (255, 255, 255, 255)  # Teams shows colour icons on their own background: keep it opaque


def outline(x: int, y: int, size: int):
    u, v = (x + 0.5) / size, (y + 0.5) / size
    edge = in_shield(u, v) and not in_shield(u + 0.08, v) or in_shield(u, v) and not in_shield(u - 0.08, v) \
        or in_shield(u, v) and not in_shield(u, v - 0.08) or in_shield(u, v) and not in_shield(u, v + 0.08)
    if edge or in_tick(u, v, 0.06) and in_shield(u, v):
        return (255, 255, 255, 255)  # white on transparent, as Teams requires
    return (0, 0, 0, 0)


if __name__ == "__main__":
    (OUT / "color.png").write_bytes(png(192, color))
    (OUT / "outline.png").write_bytes(png(32, outline))
    print(f"wrote {OUT / 'color.png'} and {OUT / 'outline.png'}")
