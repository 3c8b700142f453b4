"""Uploads streamed to disk: a multipart body parsed chunk by chunk, never held in memory.

Limits (BQAT_MAX_UPLOAD_BYTES on the body and on what zips expand to, BQAT_MAX_FILES_PER_REQUEST
on files and zip members) raise 413 as soon as they are passed. Names are sanitised; zip members
keep their path inside the zip, each part sanitised, and a member that would leave the folder
(absolute, '..', a drive) is refused, as is a zip that would expand past the byte budget.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import anyio
import multipart
from litestar.exceptions import ClientException, HTTPException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

FILES_FIELD = "files"
MAX_FIELD_BYTES = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_COPY_CHUNK = 1024 * 1024


class TooLarge(HTTPException):
    status_code = HTTP_413_REQUEST_ENTITY_TOO_LARGE


@dataclass
class Upload:
    """What one multipart body held: the files written under `folder`, and the text fields."""

    folder: Path
    files: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def safe_name(name: str) -> str:
    """One path component: the last part of what a client sent, with only safe characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:200]
    return cleaned or "upload"


def safe_member_path(name: str) -> PurePosixPath:
    """A zip member's path, each part sanitised; ClientException when it would leave the zip."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        raise ClientException(f"zip member {name!r} would be written outside the upload folder")
    return PurePosixPath(*(safe_name(part) for part in path.parts if part not in ("", ".")))


class _Budget:
    def __init__(self, max_bytes: int, max_files: int) -> None:
        self.bytes_left = max_bytes
        self.files_left = max_files
        self._max_bytes, self._max_files = max_bytes, max_files

    def spend_bytes(self, count: int) -> None:
        self.bytes_left -= count
        if self.bytes_left < 0:
            raise TooLarge(
                f"the upload exceeds {self._max_bytes} bytes (BQAT_MAX_UPLOAD_BYTES), "
                "counting what its zips expand to"
            )

    def spend_file(self) -> None:
        self.files_left -= 1
        if self.files_left < 0:
            raise TooLarge(
                f"more than {self._max_files} files in one request (BQAT_MAX_FILES_PER_REQUEST)"
            )


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(1, 100_000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise ClientException(f"too many files named {path.name}")


async def receive(
    content_type: str,
    content_length: int | None,
    chunks: AsyncIterator[bytes],
    folder: Path,
    max_bytes: int,
    max_files: int,
) -> Upload:
    """Parse the multipart body into `folder`; on any error the folder is removed."""
    kind, options = multipart.parse_options_header(content_type)
    if kind != "multipart/form-data" or "boundary" not in options:
        raise ClientException("expected a multipart/form-data body with `files` parts")
    if content_length is not None and content_length > max_bytes:
        raise TooLarge(f"the body has {content_length} bytes; the limit is {max_bytes}")
    folder.mkdir(parents=True)
    try:
        return await _parse(options["boundary"], chunks, folder, _Budget(max_bytes, max_files))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


async def _parse(
    boundary: str, chunks: AsyncIterator[bytes], folder: Path, budget: _Budget
) -> Upload:
    upload = Upload(folder=folder)
    parser = multipart.PushMultipartParser(boundary, max_segment_count=budget.files_left + 64)
    segment, handle, target, text = None, None, None, bytearray()
    try:
        async for chunk in chunks:
            budget.spend_bytes(len(chunk))
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    segment, text = event, bytearray()
                    if event.name == FILES_FIELD and event.filename is not None:
                        budget.spend_file()
                        target = _unique(folder / safe_name(event.filename))
                        handle = open(target, "wb")  # noqa: SIM115 closed at the segment's end
                elif isinstance(event, bytes | bytearray):
                    if handle is not None:
                        handle.write(event)
                    else:
                        text += event
                        if len(text) > MAX_FIELD_BYTES:
                            raise ClientException(f"form field {segment.name!r} is too long")
                elif event is None and segment is not None:
                    if handle is not None and target is not None:
                        handle.close()
                        handle = None
                        accepted = await anyio.to_thread.run_sync(_accept, target, folder, budget)
                        upload.files.extend(accepted)
                    else:
                        upload.fields[segment.name] = text.decode("utf-8", "replace")
                    segment = None
        for _ in parser.parse(b""):
            pass
    except multipart.ParserError as exc:
        raise ClientException(f"malformed multipart body: {exc}") from None
    finally:
        if handle is not None:
            handle.close()
    if not upload.files:
        raise ClientException(f"no `{FILES_FIELD}` part with a file in the upload")
    return upload


def _accept(target: Path, folder: Path, budget: _Budget) -> list[str]:
    """The stored names for one uploaded file: itself, or the members of a zip (then removed)."""
    if target.suffix.lower() != ".zip":
        return [target.name]
    try:
        names = _extract(target, folder, budget)
    except zipfile.BadZipFile as exc:
        raise ClientException(f"{target.name}: not a readable zip archive ({exc})") from None
    target.unlink()
    return names


def _extract(archive: Path, folder: Path, budget: _Budget) -> list[str]:
    names = []
    with zipfile.ZipFile(archive) as bundle:
        members = [m for m in bundle.infolist() if not m.is_dir()]
        budget.spend_bytes(sum(m.file_size for m in members) - archive.stat().st_size)
        for member in members:
            if stat.S_ISLNK(member.external_attr >> 16):
                continue  # a symlink inside a zip is never followed nor recreated
            relative = safe_member_path(member.filename)
            if not relative.parts:
                continue
            budget.spend_file()
            target = _unique(folder / relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with bundle.open(member) as source, open(target, "wb") as sink:
                while block := source.read(_COPY_CHUNK):
                    written += len(block)
                    if written > member.file_size:  # the header lied about the size
                        raise TooLarge(f"zip member {member.filename!r} expands past its size")
                    sink.write(block)
            names.append(target.relative_to(folder).as_posix())
    return names
