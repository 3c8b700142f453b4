"""A generated corpus of hostile inputs, each with the outcome bqat owes it.

Three kinds of case:
- `FileCase`: a file (or link, or folder) placed in a scanned folder; it ends as a `row`, an
  `error` row whose reason contains `reason`, or is `ignored` (not a sample by its extension,
  or a second path to a file already listed).
- `ListCase`: an entry of an explicit file list (`{"input": [...]}`): a row or an error row.
- `RequestCase` (in test_requests.py): an HTTP request and its exact 4xx.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

Outcome = Literal["row", "error", "ignored"]


@dataclass(frozen=True)
class FileCase:
    name: str  # path relative to the scanned folder, as the dataset names it
    make: Callable[[Path, Path], None]  # (path, outside folder) -> creates it
    outcome: Outcome
    reason: str = ""  # a part of the error row's reason
    unreadable: bool = False  # the test makes it unreadable (chmod; simulated for root)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid PNG announcing width x height pixels, with one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x64" * 400
LONG_NAME = "f" * 251 + ".jpg"  # 255 bytes: the longest name a file system takes


def _bytes(data: Callable[[], bytes]) -> Callable[[Path, Path], None]:
    def make(path: Path, _: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data())

    return make


def _link(target: str, *, outside: bool = False) -> Callable[[Path, Path], None]:
    def make(path: Path, out: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(out / target if outside else target, path)

    return make


def _folder_with(name: str, data: Callable[[], bytes]) -> Callable[[Path, Path], None]:
    def make(path: Path, _: Path) -> None:
        path.mkdir(parents=True)
        (path / name).write_bytes(data())

    return make


def folder_cases(face: bytes) -> list[FileCase]:
    """Every hostile file of a scanned folder, with a real face photo as raw material."""
    photo = Image.open(io.BytesIO(face))
    photo.load()
    small = photo.resize((photo.width // 3, photo.height // 3))

    def exif_rotated() -> bytes:
        exif = Image.Exif()
        exif[0x0112] = 6  # stored on its side
        return encode(small.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif)

    def grey16() -> bytes:
        grey = np.asarray(small.convert("L")).astype(np.uint16) * 257
        return encode(Image.fromarray(grey), "PNG")

    def rgba() -> bytes:
        image = small.convert("RGBA")
        image.putalpha(200)
        return encode(image, "PNG")

    def animated_gif() -> bytes:
        frames = [small.convert("P"), small.rotate(8).convert("P")]
        return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0)

    png = encode(small, "PNG")
    return [
        FileCase("good.jpg", _bytes(lambda: face), "row"),
        FileCase("jpeg_named.png", _bytes(lambda: face), "row"),
        FileCase("png_named.jpg", _bytes(lambda: png), "row"),
        FileCase("grey16.png", _bytes(grey16), "row"),
        FileCase("cmyk.jpg", _bytes(lambda: encode(small.convert("CMYK"), "JPEG")), "row"),
        FileCase("grey.png", _bytes(lambda: encode(small.convert("L"), "PNG")), "row"),
        FileCase("rgba.png", _bytes(rgba), "row"),
        FileCase("exif_rotated.jpg", _bytes(exif_rotated), "row"),
        FileCase("one_pixel.png", _bytes(lambda: encode(Image.new("RGB", (1, 1)), "PNG")), "row"),
        FileCase("animated_gif.png", _bytes(animated_gif), "row"),  # the first frame
        FileCase(LONG_NAME, _bytes(lambda: face), "row"),
        FileCase("visage é ü.jpg", _bytes(lambda: face), "row"),
        FileCase("=HYPERLINK(evil).jpg", _bytes(lambda: face), "row"),
        FileCase("sub/deeper/nested.jpeg", _bytes(lambda: face), "row"),
        FileCase("zero.jpg", _bytes(lambda: b""), "error", "the file is empty"),
        FileCase(
            "truncated.jpg", _bytes(lambda: face[: len(face) // 2]), "error", "corrupt or truncated"
        ),
        FileCase(
            "truncated.png", _bytes(lambda: png[: len(png) // 2]), "error", "corrupt or truncated"
        ),
        FileCase(
            "text.jpg", _bytes(lambda: b"not pixels\n" * 10), "error", "not a supported image"
        ),
        FileCase("mp3_named.jpg", _bytes(lambda: MP3), "error", "not a supported image"),
        FileCase(
            "bomb.png",
            _bytes(lambda: png_header_bomb(30_000, 30_000)),
            "error",
            "30000 x 30000 = 900000000 pixels, above the limit",
        ),
        FileCase("corrupt.wsq", _bytes(lambda: b"\xff\xa0\xff\xa8" + bytes(64)), "error", "WSQ"),
        FileCase("locked.jpg", _bytes(lambda: face), "error", "cannot read", unreadable=True),
        FileCase(
            "locked_dir",
            _folder_with("inside.jpg", lambda: face),
            "error",
            "cannot read folder",
            unreadable=True,
        ),
        FileCase("loop_a.jpg", _link("loop_b.jpg"), "error", "symbolic link loop"),
        FileCase("loop_b.jpg", _link("loop_a.jpg"), "error", "symbolic link loop"),
        FileCase("broken.jpg", _link("gone.jpg"), "error", "broken symbolic link"),
        FileCase("link_out.jpg", _link("secret.jpg", outside=True), "error", "outside"),
        FileCase("out_dir", _link(".", outside=True), "error", "outside"),
        FileCase("sub/up", _link(".."), "ignored"),  # a link back up: that folder, once
        FileCase("zz_same_file.jpg", _link("good.jpg"), "ignored"),  # good.jpg, listed once
        FileCase("self_loop", _link("self_loop"), "ignored"),  # no image extension
        FileCase("notes.txt", _bytes(lambda: b"notes"), "ignored"),
        FileCase("song.wav", _bytes(lambda: MP3), "ignored"),  # not a face extension
    ]


@dataclass(frozen=True)
class ListCase:
    entry: str
    outcome: Outcome
    reason: str = ""


LIST_CASES = [
    ListCase("good.jpg", "row"),
    ListCase("sub", "error", "a folder in a file list"),
    ListCase("song.wav", "error", "not a face file"),  # MP3 bytes named .wav
    ListCase("notes.txt", "error", "not a face file"),
    ListCase("missing.jpg", "error", "no such file"),
    ListCase("loop_a.jpg", "error", "symbolic link loop"),
    ListCase("text.jpg", "error", "not a supported image"),
]


def zip_of(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A zip of name -> content, plus symbolic-link members name -> target."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return buffer.getvalue()
