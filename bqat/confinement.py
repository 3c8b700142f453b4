"""Paths confined to root folders: the data roots (BQAT_DATA_ROOT) and, for scans, the uploads.

The API checks each scan input here before it creates a run, and every flow run created through
the Prefect API checks its inputs again (flows.checks), so that a run created directly on Prefect
cannot read outside the roots either. Errors (their HTTP status in the API): `PathNameError`
for a name that is empty, absolute or contains '..' (400); `AccessError` for a path that
resolves, symlinks included, outside every root (403); `NotFoundError` when nothing is there or
it is not a folder (404).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bqat.exceptions import AccessError, NotFoundError, PathNameError

NAME_MAX = 255  # bytes in one path component (Linux, macOS, Windows)
PATH_MAX = 4095  # bytes in a whole path (Linux)


def relative_name(name: str) -> PurePosixPath:
    """`name` as a relative path that cannot climb out of the folder it is joined to."""
    path = PurePosixPath(name) if isinstance(name, str) else None
    if not name or path is None or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise PathNameError(
            f"{name!r}: give a path relative to a data root, without '..' or a leading '/'"
        )
    _check_length(name, path)
    return path


def _check_length(name: str, path: PurePosixPath) -> None:
    """PathNameError for a name no file system can hold, before the OS is asked about it."""
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathNameError(f"{name!r}: not a valid UTF-8 file name") from None
    if "\0" in name:
        raise PathNameError(f"{name!r}: a file name cannot contain a NUL character")
    if size > PATH_MAX:
        raise PathNameError(f"the path is {size} bytes long; at most {PATH_MAX} are possible")
    for part in path.parts:
        if len(part.encode("utf-8")) > NAME_MAX:
            raise PathNameError(
                f"{part[:40]!r}...: a file or folder name is at most {NAME_MAX} bytes "
                f"(this one has {len(part.encode('utf-8'))}): File name too long"
            )


def is_loop(path: Path) -> bool:
    """Whether `path` is a symbolic link that never leads to a file (it loops)."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _present(path: Path, name: str) -> bool:
    """Whether anything (a broken or looping link included) is at `path`."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise AccessError(f"{name!r}: cannot be read ({exc.strerror or exc})") from None
    return True


def is_inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether `path`, symlinks resolved, lies in one of `roots` (or is one of them).

    A link that loops leads to nothing, so it is not outside (a scan reports it as an error
    row); `Path.resolve` would raise RuntimeError on it (Python 3.11).
    """
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(Path(root).resolve()) for root in roots)


def resolve_folder(name: str, roots: Sequence[Path]) -> Path:
    """The folder `name` under the first root that has it, resolved."""
    relative = relative_name(name)
    for root in roots:
        candidate = Path(root) / relative
        if _present(candidate, name):
            if is_loop(candidate):
                raise NotFoundError(f"{name!r} is a symbolic link loop, not a folder")
            if not is_inside(candidate, roots):
                raise AccessError(f"{name!r} resolves outside the data roots")
            if not candidate.is_dir():
                raise NotFoundError(f"{name!r} is not a folder")
            return candidate.resolve()
    raise NotFoundError(f"no folder {name!r} under the data roots")


def resolve_files(names: Sequence[str], roots: Sequence[Path]) -> tuple[Path, list[str]]:
    """The root holding every listed file, resolved, and the names relative to it."""
    if not names:
        raise PathNameError("the file list is empty")
    relative = [relative_name(n) for n in names]
    for root in roots:
        root = Path(root)
        if not all(_present(root / r, n) for r, n in zip(relative, names, strict=True)):
            continue
        for name, r in zip(names, relative, strict=True):
            if not is_inside(root / r, roots):
                raise AccessError(f"{name!r} resolves outside the data roots")
        return root.resolve(), [r.as_posix() for r in relative]
    raise NotFoundError("no data root holds every listed file")


def confine_folder(folder: str | Path, roots: Sequence[Path]) -> Path:
    """`folder` (a path as given to a flow run), resolved, if it is a folder inside `roots`."""
    path = Path(folder)
    if not is_inside(path, roots):
        raise AccessError(f"{str(folder)!r} is outside the data roots")
    if not path.is_dir():
        raise NotFoundError(f"{str(folder)!r} is not a folder")
    return path.resolve()
