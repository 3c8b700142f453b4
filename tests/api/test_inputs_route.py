"""GET /inputs/: the folders to scan with their sample counts, refused exactly where POST /scan/
refuses the same input."""

from __future__ import annotations

import shutil


def test_the_data_root_and_a_folder_are_listed_with_their_counts(client, data_root, samples):
    (data_root / "faces" / "more").mkdir()
    shutil.copy(next((samples / "fingerprint").glob("*.bmp")), data_root / "faces" / "more")
    top = client.get("/inputs/")
    assert top.status_code == 200, top.text
    images = {"face": 4, "fingerprint": 4, "iris": 4, "speech": 0}
    assert top.json() == {
        "path": ".",
        "folders": [{"name": "faces", "files": images}],
        "files": images,
    }
    inner = client.get("/inputs/", params={"path": "faces"}).json()
    assert inner["folders"] == [
        {"name": "more", "files": {**images, **dict.fromkeys(("face", "fingerprint", "iris"), 1)}}
    ]


def test_what_post_scan_refuses_is_refused_alike(client, data_root, tmp_path):
    (tmp_path / "outside").mkdir()
    (data_root / "escape").symlink_to(tmp_path / "outside")
    (data_root / "loop").symlink_to(data_root / "loop")
    for path in ("/etc", "faces/../..", "escape", "missing", "loop", "x" * 300):
        listed = client.get("/inputs/", params={"path": path})
        scanned = client.post("/scan/", json={"input": path, "modality": "face"})
        assert listed.status_code == scanned.status_code, (path, listed.text, scanned.text)
        assert listed.status_code in (400, 403, 404) and listed.json()["detail"], path
    assert [f["name"] for f in client.get("/inputs/").json()["folders"]] == ["faces"]
