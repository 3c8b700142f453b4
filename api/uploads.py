"""Uploads streamed to disk: a multipart body parsed chunk by chunk, never held in memory.

Limits (BQAT_MAX_UPLOAD_BYTES on the body and on what zips expand to, BQAT_MAX_FILES_PER_REQUEST
on files and zip members; a zip itself is not counted, its members are) raise 413 as soon as they
are passed. Names are sanitised, keeping the extension; a name left with no usable character
(`..`) is refused. Zip members keep their path inside the zip, each part sanitised, and a member
that would leave the folder (absolute, '..', a drive) is refused, as is a zip that would expand
past the byte budget. A zip inside a zip is extracted in place too (at most MAX_ZIP_DEPTH deep);
a symbolic link inside a zip is never recreated and is reported (`Upload.refused`), so that the
scan stores an error row for it.

The multipart parser's own limits (header line length, header lines per part, parts) and any
malformed body are 4xx with the reason, never a server error.
"""

from __future__ import annotations

import errno
import io
import re
import shutil
import stat
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import anyio
import multipart
from litestar.exceptions import ClientException, HTTPException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

FILES_FIELD = "files"
UPLOAD_FIELDS = frozenset({"modality", "dataset_id", "options"})
MAX_FIELD_BYTES = 64 * 1024
MAX_NAME = 200  # characters (ASCII after sanitising) of one stored name
MAX_EXTENSION = 16
MAX_STORED_PATH = 3000  # bytes of a zip member's stored path (PATH_MAX is 4096)
MAX_ZIP_DEPTH = 3  # a zip in a zip in a zip: deeper nesting is refused
MAX_HEADER_LINE = 4096 + 128
MAX_HEADER_LINES = 8
EXTRA_PARTS = 16  # parts beyond the files: the form fields
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_COPY_CHUNK = 1024 * 1024


class TooLarge(HTTPException):
    status_code = HTTP_413_REQUEST_ENTITY_TOO_LARGE


@dataclass
class Upload:
    """What one multipart body held: the files written under `folder`, the text fields, and
    what was not written (zip members that are symbolic links) with the reason."""

    folder: Path
    files: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)


def safe_name(name: str) -> str:
    """One path component: the last part of what a client sent, with only safe characters.

    At most MAX_NAME characters, the extension kept; ClientException when nothing usable is
    left (`..`, `...`, only spaces), since such a file could not be named in the results.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if not cleaned:
        raise ClientException(
            f"file name {name[:100]!r} has no usable character: name the file after its "
            "content, e.g. photo.jpg"
        )
    if len(cleaned) > MAX_NAME:
        stem, dot, extension = cleaned.rpartition(".")
        suffix = f".{extension}" if dot and stem and 0 < len(extension) <= MAX_EXTENSION else ""
        cleaned = cleaned[: MAX_NAME - len(suffix)].rstrip(" .") + suffix
    return cleaned


def safe_member_path(name: str) -> PurePosixPath:
    """A zip member's path, each part sanitised; ClientException when it would leave the zip."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        raise ClientException(f"zip member {name!r} would be written outside the upload folder")
    relative = PurePosixPath(*(safe_name(part) for part in path.parts if part not in ("", ".")))
    if len(str(relative).encode()) > MAX_STORED_PATH:
        raise ClientException(
            f"zip member {name[:100]!r}...: its path is longer than {MAX_STORED_PATH} bytes"
        )
    return relative


def is_zip_name(name: str | PurePosixPath) -> bool:
    return PurePosixPath(name).suffix.lower() == ".zip"


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

    def spend_file(self, count: int = 1) -> None:
        self.files_left -= count
        if self.files_left < 0:
            raise TooLarge(
                f"more than {self._max_files} files in one request (BQAT_MAX_FILES_PER_REQUEST), "
                "counting the members of zips"
            )


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(1, 100_000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise ClientException(f"too many files named {path.name}")


def _boundary(content_type: str, expected: str) -> str:
    kind, options = multipart.parse_options_header(content_type)
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise ClientException(f"expected a multipart/form-data body with {expected}")
    return options["boundary"]


def _parser_error(exc: multipart.MultipartError) -> HTTPException:
    """The multipart library's refusal as a 4xx saying which limit or rule was broken."""
    text = str(exc)
    if isinstance(exc, multipart.ParserLimitReached):
        if "header length" in text:
            return ClientException(f"a part's header line is longer than {MAX_HEADER_LINE} bytes")
        if "header count" in text:
            return ClientException(f"a part has more than {MAX_HEADER_LINES} header lines")
        if "segment count" in text:
            return TooLarge("too many parts in the multipart body")
        return TooLarge(f"the multipart body passes a limit: {text}")
    return ClientException(f"malformed multipart body: {text}")


FileOpener = Callable[[multipart.MultipartSegment], BinaryIO]
FileCloser = Callable[[multipart.MultipartSegment, BinaryIO], Awaitable[None]]


async def _read_parts(
    boundary: str,
    chunks: AsyncIterator[bytes],
    budget: _Budget,
    *,
    file_field: str,
    text_fields: frozenset[str],
    max_parts: int,
    open_file: FileOpener,
    close_file: FileCloser,
) -> dict[str, str]:
    """Stream the parts: file parts of `file_field` go to `open_file`'s handle, the text fields
    are returned. Any other part, or a field given twice, is refused with its name."""
    try:
        parser = multipart.PushMultipartParser(
            boundary,
            max_header_size=MAX_HEADER_LINE,
            max_header_count=MAX_HEADER_LINES,
            max_segment_count=max_parts,
        )
    except multipart.MultipartError as exc:
        raise _parser_error(exc) from None
    fields: dict[str, str] = {}
    segment: multipart.MultipartSegment | None = None
    handle: BinaryIO | None = None
    text = bytearray()
    try:
        async for chunk in chunks:
            budget.spend_bytes(len(chunk))
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    segment, text = event, bytearray()
                    if event.name == file_field and event.filename is not None:
                        handle = open_file(event)
                    elif event.name not in text_fields:
                        expected = ", ".join(f"`{n}`" for n in sorted({file_field, *text_fields}))
                        raise ClientException(
                            f"unexpected form field {event.name[:100]!r}"
                            f"{' (a file)' if event.filename is not None else ''}; "
                            f"the fields are {expected} (`{file_field}` with a file name)"
                        )
                    elif event.name in fields:
                        raise ClientException(f"form field {event.name!r} is given twice")
                elif isinstance(event, bytes | bytearray):
                    if handle is not None:
                        handle.write(event)
                    else:
                        text += event
                        if len(text) > MAX_FIELD_BYTES and segment is not None:
                            raise ClientException(
                                f"form field {segment.name!r} is longer than {MAX_FIELD_BYTES} "
                                "bytes"
                            )
                elif event is None and segment is not None:
                    if handle is not None:
                        done, handle = handle, None
                        await close_file(segment, done)
                    else:
                        try:
                            fields[segment.name] = text.decode("utf-8")
                        except UnicodeDecodeError:
                            raise ClientException(
                                f"form field {segment.name!r} is not UTF-8 text"
                            ) from None
                    segment = None
        parser.close()
    except multipart.MultipartError as exc:
        raise _parser_error(exc) from None
    finally:
        if handle is not None:
            handle.close()
    return fields


async def receive(
    content_type: str,
    content_length: int | None,
    chunks: AsyncIterator[bytes],
    folder: Path,
    max_bytes: int,
    max_files: int,
) -> Upload:
    """Parse the multipart body into `folder`; on any error the folder is removed."""
    boundary = _boundary(content_type, f"`{FILES_FIELD}` parts")
    if content_length is not None and content_length > max_bytes:
        raise TooLarge(f"the body has {content_length} bytes; the limit is {max_bytes}")
    folder.mkdir(parents=True)
    try:
        return await _parse(boundary, chunks, folder, _Budget(max_bytes, max_files))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


async def _parse(
    boundary: str, chunks: AsyncIterator[bytes], folder: Path, budget: _Budget
) -> Upload:
    upload = Upload(folder=folder)
    targets: dict[int, Path] = {}

    def open_file(segment: multipart.MultipartSegment) -> BinaryIO:
        name = safe_name(segment.filename or "")
        if not is_zip_name(name):  # a zip is not a file of the request: its members are
            budget.spend_file()
        target = _unique(folder / name)
        handle = open(target, "wb")  # noqa: SIM115 closed at the segment's end
        targets[id(handle)] = target
        return handle

    async def close_file(_: multipart.MultipartSegment, handle: BinaryIO) -> None:
        handle.close()
        target = targets.pop(id(handle))
        await anyio.to_thread.run_sync(_accept, target, folder, budget, upload, 0)

    upload.fields = await _read_parts(
        boundary,
        chunks,
        budget,
        file_field=FILES_FIELD,
        text_fields=UPLOAD_FIELDS,
        max_parts=budget.files_left + EXTRA_PARTS,
        open_file=open_file,
        close_file=close_file,
    )
    if not upload.files and not upload.refused:
        raise ClientException(f"no `{FILES_FIELD}` part with a file in the upload")
    return upload


def _accept(target: Path, folder: Path, budget: _Budget, upload: Upload, depth: int) -> None:
    """Record one stored file: itself, or the members of a zip (extracted beside it, and the
    zip removed)."""
    if not is_zip_name(target.name):
        upload.files.append(target.relative_to(folder).as_posix())
        return
    shown = target.relative_to(folder).as_posix()
    if depth >= MAX_ZIP_DEPTH:
        raise ClientException(
            f"{shown}: zips nested more than {MAX_ZIP_DEPTH} deep are not extracted"
        )
    try:
        _extract(target, folder, budget, upload, depth)
    except zipfile.BadZipFile as exc:
        raise ClientException(f"{shown}: not a readable zip archive ({exc})") from None
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
        raise ClientException(f"{shown}: cannot be extracted ({exc})") from None
    target.unlink()


def _extract(archive: Path, folder: Path, budget: _Budget, upload: Upload, depth: int) -> None:
    """The members of `archive` into the folder that holds it, each path kept and sanitised."""
    here = archive.parent
    prefix = here.relative_to(folder)
    with zipfile.ZipFile(archive) as bundle:
        members = [m for m in bundle.infolist() if not m.is_dir()]
        links = [m for m in members if stat.S_ISLNK(m.external_attr >> 16)]
        files = [m for m in members if m not in links]
        budget.spend_file(sum(1 for m in files if not is_zip_name(m.filename)))
        budget.spend_bytes(sum(m.file_size for m in files) - archive.stat().st_size)
        for member in links:  # a symlink inside a zip is never followed nor recreated
            relative = safe_member_path(member.filename)
            upload.refused.append(
                (
                    (prefix / relative).as_posix(),
                    "a symbolic link inside a zip: not extracted",
                )
            )
        for member in files:
            relative = safe_member_path(member.filename)
            if not relative.parts:
                continue
            target = _unique(here / relative)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                sink_file = open(target, "wb")  # noqa: SIM115 closed below
            except OSError as exc:
                if exc.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EEXIST):
                    raise ClientException(
                        f"zip member {member.filename[:100]!r} cannot be stored: "
                        f"{exc.strerror or exc}"
                    ) from None
                raise
            written = 0
            with bundle.open(member) as source, sink_file as sink:
                while block := source.read(_COPY_CHUNK):
                    written += len(block)
                    if written > member.file_size:  # the header lied about the size
                        raise TooLarge(f"zip member {member.filename!r} expands past its size")
                    sink.write(block)
            _accept(target, folder, budget, upload, depth + 1)


async def _one_file(
    content_type: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    file_field: str,
    text_fields: frozenset[str],
    open_file: FileOpener,
    close_file: FileCloser,
    why_one: str,
) -> dict[str, str]:
    """The text fields of a multipart body whose one `file_field` part goes to `open_file`'s
    handle; a second file part, or none, is refused."""
    boundary = _boundary(content_type, f"a `{file_field}` part")
    budget = _Budget(max_bytes, 1)

    def first(segment: multipart.MultipartSegment) -> BinaryIO:
        if budget.files_left < 1:
            raise ClientException(f"one `{file_field}` part only: {why_one}")
        budget.spend_file()
        return open_file(segment)

    fields = await _read_parts(
        boundary,
        chunks,
        budget,
        file_field=file_field,
        text_fields=text_fields,
        max_parts=1 + EXTRA_PARTS,
        open_file=first,
        close_file=close_file,
    )
    if budget.files_left:
        raise ClientException(f"multipart body without a `{file_field}` part with a file name")
    return fields


async def receive_file(
    content_type: str,
    content_length: int | None,
    chunks: AsyncIterator[bytes],
    target: Path,
    max_bytes: int,
    text_fields: frozenset[str],
    *,
    file_field: str = "file",
) -> dict[str, str]:
    """Stream the one `file_field` part of a multipart body to `target` (removed on any
    error) and return the text fields."""
    if content_length is not None and content_length > max_bytes:
        raise TooLarge(
            f"the body has {content_length} bytes; the limit is {max_bytes} (BQAT_MAX_UPLOAD_BYTES)"
        )

    async def close_file(_: multipart.MultipartSegment, handle: BinaryIO) -> None:
        handle.close()

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        return await _one_file(
            content_type,
            chunks,
            max_bytes,
            file_field,
            text_fields,
            lambda _: open(target, "wb"),  # closed by close_file at the part's end
            close_file,
            "this route reads one results file",
        )
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@dataclass
class SampleForm:
    """The one sample of a multipart POST /assess: its bytes, its file name, the text fields."""

    content: bytes
    filename: str | None
    fields: dict[str, str]


async def read_sample(
    content_type: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    *,
    file_field: str = "file",
    text_fields: frozenset[str] = frozenset({"modality", "options"}),
) -> SampleForm:
    """A multipart body with one `file` part (kept in memory, at most `max_bytes`)."""
    found: list[tuple[str | None, bytes]] = []

    async def close_file(segment: multipart.MultipartSegment, handle: BinaryIO) -> None:
        assert isinstance(handle, io.BytesIO)
        found.append((segment.filename, handle.getvalue()))

    fields = await _one_file(
        content_type,
        chunks,
        max_bytes,
        file_field,
        text_fields,
        lambda _: io.BytesIO(),
        close_file,
        "this route measures one sample",
    )
    filename, content = found[0]
    return SampleForm(content=content, filename=filename, fields=fields)
