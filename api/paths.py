"""Scan inputs named relative to the data roots (BQAT_DATA_ROOT), checked before any work.

400: absolute or '..' names; 403: a name that resolves (symlinks included) outside every root;
404: nothing there.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise ClientException(
            f"{name!r}: give a path relative to a data root, without '..' or a leading '/'"
        )
    return path


def _inside(path: Path, roots: list[Path]) -> bool:
    real = path.resolve()
    return any(real.is_relative_to(root.resolve()) for root in roots)


def resolve_folder(name: str, roots: list[Path]) -> Path:
    """The folder `name` under the first data root that has it."""
    relative = _relative(name)
    for root in roots:
        candidate = root / relative
        if candidate.exists() or candidate.is_symlink():
            if not _inside(candidate, roots):
                raise PermissionDeniedException(f"{name!r} resolves outside the data roots")
            if not candidate.is_dir():
                raise NotFoundException(f"{name!r} is not a folder")
            return candidate.resolve()
    raise NotFoundException(f"no folder {name!r} under the data roots")


def resolve_files(names: list[str], roots: list[Path]) -> tuple[Path, list[str]]:
    """The data root holding every listed file, and the names relative to it."""
    if not names:
        raise ClientException("the file list is empty")
    relative = [_relative(n) for n in names]
    for root in roots:
        if not all((root / r).exists() or (root / r).is_symlink() for r in relative):
            continue
        for name, r in zip(names, relative, strict=True):
            if not _inside(root / r, roots):
                raise PermissionDeniedException(f"{name!r} resolves outside the data roots")
        return root.resolve(), [r.as_posix() for r in relative]
    raise NotFoundException("no data root holds every listed file")
