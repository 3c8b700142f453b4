"""POST /datasets/import: another tool's results streamed in, served like a scanned dataset."""

from __future__ import annotations

import csv
import io

NIST = (
    '"Filename",FingerCode,QualityScore,"OptionalError",Quantized,Resampled,UniformImage,Mu\n'
    '"a.bmp",0,34,NA,0,0,34.21898,229.5475\n'
    '"b.bmp",0,NA,"Error: too small",0,0,NA,NA\n'
)


def post(client, content: str | bytes, **fields: str):
    return client.post(
        "/datasets/import",
        files={"file": ("results.csv", content, "text/csv")},
        data=fields,
    )


def test_an_nfiq2_csv_becomes_a_dataset_served_like_any_other(client):
    answer = post(client, NIST, modality="fingerprint", dataset_id="nist")
    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "dataset_id": "nist",
        "rows": 2,
        "mapped": {
            "QualityScore": "nfiq2",
            "UniformImage": "uniform_image",
            "Mu": "mu",
        },
        "extra": [
            "nfiq2_finger_code",
            "nfiq2_optional_error",
            "nfiq2_quantized",
            "nfiq2_resampled",
        ],
    }
    page = client.get("/scan/nist/profiles", params={"order_by": "file"}).json()
    first, second = page["items"]
    assert (first["file"], first["nfiq2"], first["mu"]) == ("a.bmp", 34, 229.5475)
    assert (
        second["nfiq2"] is None
        and "NFIQ 2 says: Error: too small" in (second["measure_errors"]["nfiq2"])
    )
    exported = client.get("/scan/nist/profiles", params={"format": "csv"}).text
    header = next(csv.reader(io.StringIO(exported)))
    assert "nfiq2_optional_error" in header
    assert client.get("/datasets/nist").json()["rows"] == 2


def test_a_bad_file_is_a_422_naming_line_and_column(client):
    duplicated = NIST + '"a.bmp",0,30,NA,0,0,1,2\n'
    answer = post(client, duplicated, modality="fingerprint")
    assert answer.status_code == 422
    assert "line 4, column Filename: file 'a.bmp' is also on line 2" in answer.json()["detail"]
    assert client.get("/datasets").json() == []


def multipart_chunks(content: bytes) -> tuple[str, object]:
    """A multipart body sent in chunks without a Content-Length: the limit must be met while
    streaming."""
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="modality"\r\n\r\nfingerprint\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\n\r\n'
    )
    parts = [head, *(content[i : i + 100] for i in range(0, len(content), 100)), b"\r\n--xyz--\r\n"]
    return "multipart/form-data; boundary=xyz", iter(parts)


def test_a_file_over_the_limit_is_a_413_and_nothing_stays(client, set_env):
    from bqat.settings import get_settings

    set_env(BQAT_MAX_UPLOAD_BYTES="300")
    answer = post(client, NIST * 4, modality="fingerprint")
    assert answer.status_code == 413
    assert "BQAT_MAX_UPLOAD_BYTES" in answer.json()["detail"]
    kind, chunks = multipart_chunks(NIST.encode() * 4)
    answer = client.post("/datasets/import", content=chunks, headers={"content-type": kind})
    assert answer.status_code == 413
    assert "BQAT_MAX_UPLOAD_BYTES" in answer.json()["detail"]
    uploads = get_settings().home / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_wrong_modality_and_an_unknown_field_are_refused(client):
    assert post(client, NIST, modality="face").status_code == 422
    answer = post(client, NIST, modality="fingerprint", engine="x")
    assert answer.status_code == 400 and "unexpected form field 'engine'" in answer.json()["detail"]
