"""Finding the samples of a scan: by extension, recursively, each real file once, never outside.

Discovery picks files by extension (case-insensitive) and ignores everything else; decoding
later goes by content. Symlinks are followed only while they stay inside the scanned folder,
and a file reached by several paths (links, loops) is listed once, under its first path.

What discovery finds but cannot use is reported, never dropped without a word: a link that
loops or leaves the folder (where it would have been a sample), a sub-folder it cannot read,
and, for an explicit file list, every entry that is missing, a folder, or not of the modality.
The scan stores each as an error row with its reason.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bqat.engines.registry import engines, get_engine
from bqat.exceptions import AccessError, ConfigError, NotFoundError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".jp2", ".j2k", ".wsq", ".webp"}
)

LOOP = "a symbolic link loop: not followed"
BROKEN = "a broken symbolic link: it leads to no file"
OUTSIDE = "a symbolic link to outside the scanned folder: not followed"


@dataclass(frozen=True)
class SampleFile:
    """A discovered file: where it is, and its name in the dataset (relative, '/'-separated)."""

    path: Path
    name: str


@dataclass(frozen=True)
class Skipped:
    """Something discovery could not use: its name (relative to the folder) and why."""

    name: str
    reason: str

    def error_row(self) -> dict[str, str | None]:
        return {"file": self.name, "sha256": None, "reason": self.reason}


@dataclass(frozen=True)
class Discovery:
    """The samples, sorted by name, and what could not be used, sorted by name."""

    samples: list[SampleFile]
    skipped: list[Skipped] = field(default_factory=list)


def discover(
    folder: Path, modality: str, *, pattern: str | None = None, files: Iterable[str] | None = None
) -> list[SampleFile]:
    """The samples of `modality` under `folder` (or the listed `files` inside it), sorted.

    `pattern` is a regular expression searched in each relative name. What cannot be used is
    left out; `discover_all` says what and why.
    """
    return discover_all(folder, modality, pattern=pattern, files=files).samples


def discover_all(
    folder: Path, modality: str, *, pattern: str | None = None, files: Iterable[str] | None = None
) -> Discovery:
    """The samples of `modality` under `folder` (or the listed `files`), and what was skipped.

    Walking a folder, other extensions are ignored silently; a listed file is one the user
    named, so each listed entry is either a sample or skipped with its reason.
    """
    root = _root(folder)
    regex = _compile(pattern)
    extensions = get_engine(modality).extensions
    found = _Found(root)
    if files is None:
        _walk(root, extensions, regex, found)
    else:
        _listed(root, list(files), extensions, modality, regex, found)
    return Discovery(
        samples=sorted(found.samples, key=lambda s: s.name),
        skipped=sorted(found.skipped, key=lambda s: s.name),
    )


@dataclass(frozen=True)
class Inventory:
    """What a scan of each modality would find under a folder: in all (`files`) and in each of
    its sub-folders (`folders`, by name), from one walk, nothing decoded."""

    files: dict[str, int]
    folders: dict[str, dict[str, int]]


def inventory(folder: Path) -> Inventory:
    """Counts per modality of the samples under `folder` and each of its sub-folders, found as
    `discover_all` finds them (by extension, links inside the folder followed, each real file
    once); NotFoundError or AccessError as for a scan of `folder`."""
    root = _root(folder)
    extensions = {modality: engine.extensions for modality, engine in engines().items()}
    found = _Found(root)
    _walk(root, frozenset().union(*extensions.values()), None, found)

    def zero() -> dict[str, int]:
        return dict.fromkeys(extensions, 0)

    files = zero()
    folders: dict[str, dict[str, int]] = {}
    with os.scandir(root) as entries:
        for entry in entries:
            real = real_path(Path(entry.path))  # a link out of the folder is no sub-folder of it
            if real is not None and real.is_dir() and real.is_relative_to(root):
                folders[entry.name] = zero()
    for sample in found.samples:
        top, _, rest = sample.name.partition("/")
        suffix = sample.path.suffix.lower()
        for modality, kinds in extensions.items():
            if suffix in kinds:
                files[modality] += 1
                if rest and top in folders:
                    folders[top][modality] += 1
    return Inventory(files=files, folders=dict(sorted(folders.items())))


def _root(folder: Path) -> Path:
    """The scanned folder, resolved; NotFoundError or AccessError when it cannot be listed."""
    try:
        root = Path(folder).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"no such folder: {folder}") from None
    except RuntimeError:  # Python 3.11 reports a loop this way
        raise NotFoundError(f"{folder} is a symbolic link loop, not a folder") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotFoundError(f"{folder} is a symbolic link loop, not a folder") from None
        raise AccessError(f"cannot read folder {folder}: {exc.strerror or exc}") from None
    if not root.is_dir():
        raise NotFoundError(f"no such folder: {folder}")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise AccessError(f"cannot read folder {folder}: {exc.strerror or exc}") from None
    return root


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid pattern {pattern!r}: {exc}") from None


def real_path(path: Path) -> Path | None:
    """Where `path` leads, links resolved; None when its links loop."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError):
        return None


class _Found:
    """Samples and skipped entries, each real file once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.samples: list[SampleFile] = []
        self.skipped: list[Skipped] = []
        self._seen: set[Path] = set()

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append(Skipped(name, reason))

    def add(self, path: Path, name: str, *, listed: bool) -> None:
        """Add the file at `path` unless it loops, leaves the root, is no file or was seen."""
        real = real_path(path)
        if real is None:
            self.skip(name, LOOP)
            return
        if not real.is_relative_to(self.root):
            self.skip(name, OUTSIDE)
            return
        try:
            is_file = real.is_file()
        except OSError as exc:
            self.skip(name, f"cannot read: {exc.strerror or exc}")
            return
        if real.is_dir():
            if listed:
                self.skip(
                    name,
                    "a folder in a file list: give the folder as `input` instead "
                    "(its files are not scanned from a list)",
                )
            return
        if not is_file:
            if not os.path.exists(real) and os.path.islink(path):
                self.skip(name, BROKEN)
            elif listed:
                reason = "no such file" if not os.path.lexists(path) else "not a regular file"
                self.skip(name, reason)
            return
        if real in self._seen:
            return  # the same file under another path: assessed once, under its first name
        self._seen.add(real)
        self.samples.append(SampleFile(path=path, name=name))


def _walk(
    root: Path, extensions: frozenset[str], regex: re.Pattern[str] | None, found: _Found
) -> None:
    """Every sample under `root`, following links to folders inside `root` once each."""
    visited: set[Path] = set()

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or root)
        name = _name(where, root)
        if error.errno == errno.ELOOP:
            found.skip(name, LOOP)
        else:
            found.skip(name, f"cannot read folder: {error.strerror or error}")

    for current, folders, names in os.walk(root, followlinks=True, onerror=unreadable):
        here = Path(current)
        real = real_path(here)
        if real is None or real in visited or not real.is_relative_to(root):
            if here != root and real is not None and not real.is_relative_to(root):
                found.skip(_name(here, root), OUTSIDE)
            folders.clear()
            continue
        visited.add(real)
        folders.sort()
        for name in sorted(names):
            path = here / name
            relative = _name(path, root)
            if path.suffix.lower() not in extensions or (regex and not regex.search(relative)):
                continue
            found.add(path, relative, listed=False)


def _name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def _listed(
    root: Path,
    files: list[str],
    extensions: frozenset[str],
    modality: str,
    regex: re.Pattern[str] | None,
    found: _Found,
) -> None:
    for name in files:
        relative = PurePosixPath(name)
        if not name or relative.is_absolute() or ".." in relative.parts:
            raise ConfigError(f"file list entries must be relative and inside the folder: {name}")
        clean = relative.as_posix()
        if regex and not regex.search(clean):
            continue
        path = root / relative
        try:
            exists = os.path.lexists(path)
        except (OSError, ValueError) as exc:
            found.skip(clean, f"cannot read: {getattr(exc, 'strerror', None) or exc}")
            continue
        if not exists:
            found.skip(clean, "no such file")
            continue
        if path.suffix.lower() not in extensions and not _is_dir(path):
            kinds = ", ".join(sorted(extensions))
            found.skip(
                clean,
                f"not a {modality} file: the extension {path.suffix or '(none)'!r} "
                f"is not one of {kinds}",
            )
            continue
        found.add(path, clean, listed=True)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
