"""Finding the samples of a scan: by extension, recursively, each real file once, never outside.

Discovery picks files by extension (case-insensitive) and ignores everything else; decoding
later goes by content. Symlinks are followed only while they stay inside the scanned folder,
and a file reached by several paths (links, loops) is listed once, under its first path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bqat.engines.registry import get_engine
from bqat.exceptions import ConfigError, NotFoundError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".jp2", ".j2k", ".wsq", ".webp"}
)


@dataclass(frozen=True)
class SampleFile:
    """A discovered file: where it is, and its name in the dataset (relative, '/'-separated)."""

    path: Path
    name: str


def discover(
    folder: Path, modality: str, *, pattern: str | None = None, files: Iterable[str] | None = None
) -> list[SampleFile]:
    """The samples of `modality` under `folder` (or the listed `files` inside it), sorted.

    `pattern` is a regular expression searched in each relative name.
    """
    root = folder.resolve()
    if not root.is_dir():
        raise NotFoundError(f"no such folder: {folder}")
    regex = _compile(pattern)
    extensions = get_engine(modality).extensions
    candidates = _listed(root, files) if files is not None else _walk(root)
    seen: set[Path] = set()
    found = []
    for path in candidates:
        real = path.resolve()
        if real in seen or not real.is_relative_to(root) or not real.is_file():
            continue
        name = path.relative_to(root).as_posix()
        if path.suffix.lower() not in extensions or (regex and not regex.search(name)):
            continue
        seen.add(real)
        found.append(SampleFile(path=path, name=name))
    return sorted(found, key=lambda s: s.name)


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid pattern {pattern!r}: {exc}") from None


def _walk(root: Path) -> Iterator[Path]:
    """Every file path under `root`, following links to folders inside `root` once each."""
    visited: set[Path] = set()
    for current, folders, names in os.walk(root, followlinks=True):
        here = Path(current)
        real = here.resolve()
        if real in visited or not real.is_relative_to(root):
            folders.clear()
            continue
        visited.add(real)
        folders.sort()
        for name in sorted(names):
            yield here / name


def _listed(root: Path, files: Iterable[str]) -> Iterator[Path]:
    for name in files:
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ConfigError(f"file list entries must be relative and inside the folder: {name}")
        yield root / relative
