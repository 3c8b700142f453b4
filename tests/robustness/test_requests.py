"""Hostile requests: each gets its exact 4xx with a precise message, never a 500, and leaves the
store and the uploads as they were."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from corpus import MP3, png_header_bomb, zip_of

from bqat.settings import get_settings
from bqat.store import Store

BOUNDARY = "hostile-boundary"


def multipart_body(parts: list[tuple[str, str | None, bytes, str]]) -> bytes:
    """(field name, file name, content, extra header lines) -> a multipart/form-data body."""
    body = b""
    for name, filename, content, extra in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{extra}\r\n".encode()
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
JSON = {"content-type": "application/json"}
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
    "PxA="
)


@dataclass(frozen=True)
class RequestCase:
    id: str
    method: str
    path: str
    status: int
    detail: str  # a part of the error's detail
    kwargs: dict[str, Any] | Callable[[], dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def _deep(depth: int) -> bytes:
    return (
        b'{"modality": "face", "data": "", "options": '
        + b'{"a":' * depth
        + b"1"
        + b"}" * (depth + 1)
    )


def _upload(*parts: tuple[str, str | None, bytes, str]) -> dict[str, Any]:
    return {"content": multipart_body(list(parts)), "headers": MULTIPART}


def _zip_upload(archive: bytes) -> dict[str, Any]:
    return {"files": [("files", ("z.zip", archive))], "params": {"modality": "face"}}


def _nested(depth: int) -> bytes:
    archive = zip_of({"face.jpg": TINY_JPEG})
    for level in range(depth):
        archive = zip_of({f"level{level}.zip": archive})
    return archive


LONG = "a" * 300
CASES = [
    # POST /scan/: names and links under the data root
    RequestCase("scan-name-too-long", "POST", "/scan/", 400, "File name too long",
                {"json": {"input": LONG, "modality": "face"}}),
    RequestCase("scan-list-name-too-long", "POST", "/scan/", 400, "File name too long",
                {"json": {"input": [f"faces/{LONG}.jpg"], "modality": "face"}}),
    RequestCase("scan-path-too-long", "POST", "/scan/", 400, "at most 4095",
                {"json": {"input": "/".join(["d" * 200] * 25), "modality": "face"}}),
    RequestCase("scan-nul", "POST", "/scan/", 400, "NUL",
                {"json": {"input": "faces\u0000x", "modality": "face"}}),
    RequestCase("scan-loop-folder", "POST", "/scan/", 404, "symbolic link loop",
                {"json": {"input": "loop", "modality": "face"}}),
    RequestCase("scan-link-out", "POST", "/scan/", 403, "outside the data roots",
                {"json": {"input": "out", "modality": "face"}}),
    RequestCase("scan-dotdot", "POST", "/scan/", 400, "without '..'",
                {"json": {"input": "faces/../..", "modality": "face"}}),
    RequestCase("scan-absolute", "POST", "/scan/", 400, "leading '/'",
                {"json": {"input": "/etc", "modality": "face"}}),
    RequestCase("scan-json-not-utf8", "POST", "/scan/", 400, "not valid UTF-8",
                {"content": b'{"input": "\xff\xfe", "modality": "face"}', "headers": JSON}),
    RequestCase("scan-json-deep", "POST", "/scan/", 400, "nested too deeply",
                lambda: {"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON}),
    RequestCase("scan-json-malformed", "POST", "/scan/", 400, "truncated",
                {"content": b'{"input": ', "headers": JSON}),
    RequestCase("scan-dataset-id-newline", "POST", "/scan/", 422, "invalid dataset id",
                {"json": {"input": "faces", "modality": "face", "dataset_id": "ds\n"}}),
    # POST /scan/uploaded: the multipart parser's limits and hostile names and zips
    RequestCase("upload-part-header-200kb", "POST", "/scan/uploaded?modality=face", 400,
                "header line is longer than",
                _upload(("files", "a.jpg", TINY_JPEG, f"X-Big: {'b' * 200_000}\r\n"))),
    RequestCase("upload-many-headers", "POST", "/scan/uploaded?modality=face", 400,
                "more than 8 header lines",
                _upload(("files", "a.jpg", TINY_JPEG,
                         "".join(f"X-H{i}: v\r\n" for i in range(50))))),
    RequestCase("upload-many-fields", "POST", "/scan/uploaded?modality=face", 400,
                "unexpected form field",
                lambda: _upload(("files", "a.jpg", TINY_JPEG, ""),
                                *((f"f{i}", None, b"x", "") for i in range(5000)))),
    RequestCase("upload-field-twice", "POST", "/scan/uploaded", 400, "given twice",
                _upload(("modality", None, b"face", ""), ("modality", None, b"face", ""),
                        ("files", "a.jpg", TINY_JPEG, ""))),
    RequestCase("upload-truncated-body", "POST", "/scan/uploaded?modality=face", 400,
                "malformed multipart body",
                {"content": multipart_body([("files", "a.jpg", TINY_JPEG, "")])[:-30],
                 "headers": MULTIPART}),
    RequestCase("upload-named-dotdot", "POST", "/scan/uploaded?modality=face", 400,
                "no usable character", {"files": [("files", ("..", TINY_JPEG))]}),
    RequestCase("upload-zip-slip-relative", "POST", "/scan/uploaded", 400,
                "outside the upload folder",
                _zip_upload(zip_of({"ok.jpg": TINY_JPEG, "../evil.jpg": TINY_JPEG}))),
    RequestCase("upload-zip-slip-absolute", "POST", "/scan/uploaded", 400,
                "outside the upload folder",
                _zip_upload(zip_of({"ok.jpg": TINY_JPEG, "/etc/evil.jpg": TINY_JPEG}))),
    RequestCase("upload-zip-bomb", "POST", "/scan/uploaded", 413, "BQAT_MAX_UPLOAD_BYTES",
                lambda: _zip_upload(zip_of({"zeros.jpg": bytes(50_000_000)})),
                {"BQAT_MAX_UPLOAD_BYTES": "5000000"}),
    RequestCase("upload-zip-too-many-members", "POST", "/scan/uploaded", 413,
                "BQAT_MAX_FILES_PER_REQUEST",
                lambda: _zip_upload(zip_of({f"{i}.jpg": b"x" for i in range(10_001)}))),
    RequestCase("upload-zips-nested-too-deep", "POST", "/scan/uploaded", 400,
                "nested more than 3 deep", _zip_upload(_nested(3))),
    RequestCase("upload-not-a-zip", "POST", "/scan/uploaded", 400, "not a readable zip",
                _zip_upload(b"PK\x03\x04 not really")),
    RequestCase("upload-json", "POST", "/scan/uploaded", 400, "multipart/form-data",
                {"json": {"modality": "face"}}),
    # POST /assess: content types, shapes, limits
    RequestCase("assess-multipart-without-file", "POST", "/assess", 400,
                "without a `file` part",
                {"content": multipart_body([("modality", None, b"face", "")]),
                 "headers": MULTIPART}),
    RequestCase("assess-url-encoded", "POST", "/assess", 415, "multipart/form-data",
                {"data": {"modality": "face", "file": "x"}}),
    RequestCase("assess-text-plain", "POST", "/assess", 415, "got text/plain",
                {"content": b"hello", "headers": {"content-type": "text/plain"}}),
    RequestCase("assess-json-without-modality", "POST", "/assess", 422,
                "missing required field `modality`",
                {"json": {"data": base64.b64encode(TINY_JPEG).decode()}}),
    RequestCase("assess-json-not-utf8", "POST", "/assess", 400, "not valid UTF-8",
                {"content": b'{"modality": "face", "data": "\xff"}', "headers": JSON}),
    RequestCase("assess-json-deep", "POST", "/assess", 400, "nested too deeply",
                lambda: {"content": _deep(100_000), "headers": JSON}),
    RequestCase("assess-bad-base64", "POST", "/assess", 400, "not valid base64",
                {"json": {"modality": "face", "data": "***"}}),
    RequestCase("assess-options-not-json", "POST", "/assess", 422, "options: not JSON",
                {"files": {"file": ("a.jpg", TINY_JPEG)}, "data": {"modality": "face",
                                                                  "options": "{"}}),
    RequestCase("assess-options-not-object", "POST", "/assess", 422, "expected a JSON object",
                {"files": {"file": ("a.jpg", TINY_JPEG)}, "data": {"modality": "face",
                                                                  "options": "[1]"}}),
    RequestCase("assess-two-files", "POST", "/assess", 400, "one `file` part only",
                _upload(("file", "a.jpg", TINY_JPEG, ""), ("file", "b.jpg", TINY_JPEG, ""))),
    RequestCase("assess-text-named-jpg", "POST", "/assess", 422, "not a supported image",
                {"files": {"file": ("a.jpg", b"just text")}, "data": {"modality": "face"}}),
    RequestCase("assess-mp3-named-wav", "POST", "/assess", 422, "not a supported image",
                {"files": {"file": ("song.wav", MP3)}, "data": {"modality": "face"}}),
    RequestCase("assess-header-bomb", "POST", "/assess", 422,
                "30000 x 30000 = 900000000 pixels, above the limit",
                {"files": {"file": ("b.png", png_header_bomb(30_000, 30_000))},
                 "data": {"modality": "face"}}),
    # Results, tasks, datasets
    RequestCase("filter-timestamp-not-iso", "GET", "/scan/ds/profiles", 422, "ISO 8601",
                {"params": {"filter": "scanned_at>=2020"}}),
    RequestCase("filter-unknown-column", "GET", "/scan/ds/profiles", 422, "not a stored column",
                {"params": {"filter": "nope=1"}}),
    RequestCase("task-offset-overflow", "GET", "/task/", 422, "offset",
                {"params": {"offset": "9223372036854775808"}}),
    RequestCase("outliers-unknown-column", "POST", "/scan/ds/outliers", 422,
                "unknown face columns: nope", {"json": {"columns": ["nope"]}}),
    RequestCase("outliers-text-column", "POST", "/scan/ds/outliers", 422, "numeric or boolean",
                {"json": {"columns": ["ipd", "yaw_pose"]}}),
    RequestCase("dataset-id-trailing-newline", "GET", "/datasets/ds%0A", 422,
                "invalid dataset id"),
    RequestCase("delete-dataset-trailing-newline", "DELETE", "/datasets/ds%0A", 422,
                "invalid dataset id"),
]  # fmt: skip


@pytest.fixture
def roots(data_root: Path, tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink("loop", data_root / "loop")
    os.symlink(outside, data_root / "out")
    return data_root


@pytest.fixture
def stored(client, roots):
    store = Store()
    store.create_dataset("ds", "face")
    store.append("ds", rows=[{"file": "=HYPERLINK(evil).jpg", "sha256": "0" * 64, "ipd": 50}])
    return client


def _uploads() -> list[str]:
    root = get_settings().home / "uploads"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.is_dir() else []


@pytest.mark.timeout(240)
def test_every_hostile_request_gets_its_exact_4xx(stored, monkeypatch):
    """One app for every case (starting one costs seconds); each failure is listed by case."""
    assert len(CASES) >= 40
    failures = []
    for case in CASES:
        with monkeypatch.context() as scoped:
            for key, value in case.env.items():
                scoped.setenv(key, value)
            get_settings.cache_clear()
            kwargs = case.kwargs() if callable(case.kwargs) else case.kwargs
            response = stored.request(case.method, case.path, **kwargs)
        get_settings.cache_clear()
        body = response.json() if response.content else {}
        if (response.status_code, body.get("status_code")) != (case.status, case.status):
            failures.append(f"{case.id}: {response.status_code} {response.text[:300]}")
        elif case.detail not in body.get("detail", ""):
            failures.append(f"{case.id}: detail {body.get('detail')!r} lacks {case.detail!r}")
        # Nothing stored: no new dataset, no upload left behind.
        if [d.dataset_id for d in Store().datasets()] != ["ds"] or _uploads():
            failures.append(f"{case.id}: left {Store().datasets()} and uploads {_uploads()}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def keyed(roots, set_env):
    from litestar.testing import TestClient

    from api.app import create_app

    set_env(BQAT_API_KEY="k" * 32)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def test_without_the_key_every_route_is_401_before_404_or_405(keyed):
    for method, path in [
        ("HEAD", "/datasets/"),
        ("GET", "/no/such/route"),
        ("PUT", "/datasets/"),
        ("GET", "/task/"),
    ]:
        response = keyed.request(method, path)
        assert response.status_code == 401, (method, path)
        if method != "HEAD":
            assert "X-API-Key" in response.json()["detail"]
        with_key = keyed.request(method, path, headers={"X-API-Key": "k" * 32})
        assert with_key.status_code != 401, (method, path)
    assert keyed.get("/health").status_code == 200


def test_the_csv_export_defuses_spreadsheet_formulas(stored):
    response = stored.get("/scan/ds/profiles", params={"format": "csv"})
    assert response.status_code == 200
    assert '"\'=HYPERLINK(evil).jpg"' in response.text
    as_json = stored.get("/scan/ds/profiles").json()
    assert as_json["items"][0]["file"] == "=HYPERLINK(evil).jpg"  # only the CSV is changed


def test_timestamps_filter_with_iso_8601(stored):
    for value in ("2020-01-01", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00+02:00"):
        page = stored.get("/scan/ds/profiles", params={"filter": f"scanned_at>={value}"})
        assert page.status_code == 200 and page.json()["total"] == 1, value
    later = stored.get("/scan/ds/profiles", params={"filter": "scanned_at>3000-01-01"})
    assert later.json()["total"] == 0


def test_json_and_multipart_bodies_of_assess_still_work(stored, samples):
    face = (samples / "face" / "268284860_1.jpg").read_bytes()
    as_form = stored.post(
        "/assess",
        files={"file": ("a.jpg", face)},
        data={"modality": "face", "options": json.dumps({"confidence": 0.5})},
    )
    assert as_form.status_code == 200, as_form.text
    as_json = stored.post(
        "/assess",
        json={"modality": "face", "data": base64.b64encode(face).decode(), "filename": "a.jpg"},
    )
    assert as_json.status_code == 200, as_json.text
    assert as_form.json()["face_count"] == as_json.json()["face_count"] == 1
