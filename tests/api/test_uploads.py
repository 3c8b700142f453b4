"""POST /scan/uploaded: streamed to disk, sanitised, zip-slip and zip-bomb safe, limits as 413."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar.exceptions import ClientException

from api.uploads import safe_member_path, safe_name
from bqat.settings import get_settings


def uploads() -> Path:
    return get_settings().home / "uploads"


def stored_files() -> list[str]:
    root = uploads()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def face(samples) -> bytes:
    return (samples / "face" / "268284860_1.jpg").read_bytes()


def test_files_and_zip_members_land_under_the_dataset_and_a_scan_starts(client, face, zipped):
    archive = zipped({"sub/c.jpg": face, "notes.txt": b"ignored by discovery"})
    response = client.post(
        "/scan/uploaded",
        files=[
            ("files", ("a.jpg", face)),
            ("files", ("b.jpg", face)),
            ("files", ("z.zip", archive)),
        ],
        data={"modality": "face", "dataset_id": "up", "options": json.dumps({"confidence": 0.5})},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["dataset_id"] == "up"
    names = {p.split("/", 2)[2] for p in stored_files()}
    assert names == {"a.jpg", "b.jpg", "sub/c.jpg", "notes.txt"}
    assert all(p.startswith("up/") for p in stored_files())
    task = client.get(f"/task/{body['tid']}").json()
    assert (task["kind"], task["dataset_id"]) == ("scan", "up")
    client.post(f"/task/{body['tid']}/cancel")


def test_names_are_sanitised():
    assert safe_name("../../etc/pass wd?.jpg") == "pass wd_.jpg"
    assert safe_name("C:\\Users\\me\\photo.JPG") == "photo.JPG"
    with pytest.raises(ClientException, match="no usable character"):
        safe_name("...")
    long = safe_name("x" * 300 + ".jpeg")
    assert long.endswith(".jpeg") and len(long) == 200
    assert safe_member_path("a/./b/x y$.png").as_posix() == "a/b/x y_.png"


@pytest.mark.parametrize("member", ["../evil.jpg", "/abs/evil.jpg", "a/../../evil.jpg", "C:/x.jpg"])
def test_a_zip_member_leaving_the_folder_is_refused_and_nothing_is_kept(
    client, face, member, zipped
):
    archive = zipped({"fine.jpg": face, member: face})
    response = client.post("/scan/uploaded?modality=face", files=[("files", ("slip.zip", archive))])
    assert response.status_code == 400 and "outside the upload folder" in response.json()["detail"]
    assert stored_files() == []


def test_a_zip_bomb_is_refused_by_its_expanded_size(client, set_env, zipped):
    set_env(BQAT_MAX_UPLOAD_BYTES=str(5_000_000))
    bomb = zipped({"zeros.jpg": bytes(50_000_000)})
    assert len(bomb) < 100_000
    response = client.post("/scan/uploaded?modality=face", files=[("files", ("b.zip", bomb))])
    assert response.status_code == 413 and "BQAT_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert stored_files() == []


def test_byte_and_file_limits_are_413(client, face, set_env):
    set_env(BQAT_MAX_UPLOAD_BYTES=str(len(face) * 2), BQAT_MAX_FILES_PER_REQUEST="2")
    big = client.post(
        "/scan/uploaded?modality=face",
        files=[("files", (f"{i}.jpg", face)) for i in range(3)],
    )
    assert big.status_code == 413
    set_env(BQAT_MAX_UPLOAD_BYTES=str(10 * len(face)))
    many = client.post(
        "/scan/uploaded?modality=face",
        files=[("files", (f"{i}.jpg", face)) for i in range(3)],
    )
    assert many.status_code == 413 and "BQAT_MAX_FILES_PER_REQUEST" in many.json()["detail"]
    assert stored_files() == []


def test_bad_uploads_are_clear_errors(client, face):
    assert (
        client.post(
            "/scan/uploaded?modality=retina", files=[("files", ("a.jpg", face))]
        ).status_code
        == 422
    )
    no_files = client.post("/scan/uploaded", data={"modality": "face"})
    assert no_files.status_code == 400
    bad_options = client.post(
        "/scan/uploaded",
        files=[("files", ("a.jpg", face))],
        data={"modality": "face", "options": "{"},
    )
    assert bad_options.status_code == 422 and "options" in bad_options.json()["detail"]
    not_zip = client.post(
        "/scan/uploaded?modality=face", files=[("files", ("x.zip", b"not a zip"))]
    )
    assert not_zip.status_code == 400 and "not a readable zip" in not_zip.json()["detail"]
    json_body = client.post("/scan/uploaded", json={"modality": "face"})
    assert json_body.status_code == 400
    assert stored_files() == []
