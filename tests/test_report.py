"""The HTML report of a scanned dataset: its sections, thumbnails, and that it works offline."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from bqat.exceptions import ConfigError
from bqat.ingest import discover
from bqat.measures import measures
from bqat.outliers import detect, write_outliers
from bqat.quality_profiles import get_profile
from bqat.report import build_report, write_report
from bqat.report_html import caption
from bqat.scanning import assess_batch, plan
from bqat.store import Store
from bqat.thumbnails import THUMBNAIL_SIDE, sample_path

URL_ATTRIBUTES = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


class Links(HTMLParser):
    """Every URL the page's markup and stylesheets would load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name == "srcset":
                self.urls.extend(u.strip().split(" ")[0] for u in value.split(", "))
            elif name in URL_ATTRIBUTES or name.endswith(":href"):
                self.urls.append(value.strip())
            if name == "style":
                self.urls.extend(a or b for a, b in CSS_URL.findall(value))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls.extend(a or b for a, b in CSS_URL.findall(data))


@pytest.fixture(scope="module")
def scanned(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A face dataset with a byte copy, a half-size copy and a broken file; (report, folder)."""
    home = tmp_path_factory.mktemp("home")
    folder = tmp_path_factory.mktemp("faces")
    for path in sorted((samples / "face").glob("*.jpg")):
        shutil.copy(path, folder / path.name)
    shutil.copy(folder / "268284860_1.jpg", folder / "byte_copy.jpg")
    image = cv2.imread(str(folder / "271207560_1.jpg"))
    half = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), cv2.INTER_AREA)
    cv2.imwrite(str(folder / "half_size.jpg"), half, [cv2.IMWRITE_JPEG_QUALITY, 85])
    (folder / "broken.jpg").write_bytes(b"these bytes are no image")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BQAT_HOME", str(home))
        from bqat.settings import get_settings

        get_settings.cache_clear()
        store = Store()
        store.create_dataset("faces", "face", source=folder)
        work = plan(store.stored_hashes("faces"), discover(folder, "face")).work
        assess_batch(store, "faces", "face", work, {})
        write_outliers(detect("faces", contamination=0.2))
        path = write_report("faces")
        get_settings.cache_clear()
    return path, folder


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find('<h2 id="', start + 1)
    return html[start:end]


def test_the_page_loads_nothing_from_any_other_host(scanned):
    html = scanned[0].read_text()
    links = Links()
    links.feed(html)
    assert links.urls, "the parser found no URL at all: it would pass any page"
    export = "/scan/faces/profiles?format=csv&profile=icao-portrait"  # same host, on a click
    assert all(u.startswith(("data:", "#")) or u == export for u in links.urls), {
        u[:80] for u in links.urls if not u.startswith(("data:", "#"))
    }
    assert f'<a href="{export.replace("&", "&amp;")}">' in html
    assert "iframe" not in links.tags
    assert not re.search(r"<script[^>]+src=", html)


def test_the_outlier_table_embeds_thumbnails_of_the_flagged_samples(scanned):
    html, folder = scanned[0].read_text(), scanned[1]
    outliers = section(html, "bqat-outliers")
    rows = re.findall(
        r'<img src="data:image/jpeg;base64,([^"]+)"[^>]*></td><td><code>([^<]+)', outliers
    )
    assert len(rows) == 2  # 20 % of 9 rows
    for encoded, file in rows:
        thumb = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), np.uint8), cv2.IMREAD_COLOR)
        original = cv2.imread(str(folder / file))
        assert max(thumb.shape[:2]) == THUMBNAIL_SIDE
        ratio = (original.shape[1] / original.shape[0]) / (thumb.shape[1] / thumb.shape[0])
        assert abs(ratio - 1) < 0.02
        small = cv2.resize(original, thumb.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(small.astype(int) - thumb.astype(int)).mean() < 6  # the same picture


def test_duplicates_errors_and_columns_are_listed(scanned):
    html = scanned[0].read_text()
    duplicates = section(html, "bqat-duplicates")
    exact = re.search(r"<td>exact</td>.*?</tr>", duplicates).group(0)
    assert "<code>268284860_1.jpg</code><br><code>byte_copy.jpg</code>" in exact
    near = re.search(r"<td>near</td>.*?</tr>", duplicates).group(0)
    assert "<code>271207560_1.jpg</code><br><code>half_size.jpg</code>" in near
    assert near.count("data:image/jpeg") == 2
    errors = section(html, "bqat-errors")
    assert "<code>broken.jpg</code>" in errors and "not a supported image" in errors
    columns = section(html, "bqat-columns")
    for measure in measures("face"):
        assert f"<code>{measure.name}</code>" in columns


def test_each_distribution_panel_carries_the_declared_description_and_unit(scanned):
    html = section(scanned[0].read_text(), "bqat-distributions")
    panels = dict(re.findall(r'id="panel-(\w+)"><h3><code>\w+</code></h3><p>(.*?)</p>', html))
    shown = [m for m in measures("face") if m.name in panels]
    numeric = {m.name for m in measures("face") if m.type in ("integer", "number")}
    assert numeric - {"confidence"} <= set(panels)  # every numeric measure holding values
    assert {"smile", "yaw_pose", "glasses"} <= set(panels)  # labels are drawn as shares
    brightness = next(m for m in measures("face") if m.name == "brightness")
    assert unescape(panels["brightness"]) == caption(brightness)
    assert (
        "Unit: grey level." in panels["brightness"] and "Range: 0 to 255." in panels["brightness"]
    )
    components = [t.measure.removesuffix("_scalar") for t in get_profile("face").thresholds]
    lead = list(dict.fromkeys(components))
    expected = sorted(
        shown,
        key=lambda m: (lead.index(m.name) if m.name in lead else len(lead), m.direction == "none"),
    )
    # the profile's components, then the other quality measures, then the rest (coordinates)
    assert list(panels) == [m.name for m in expected]
    assert list(panels)[:2] == ["face_count", "iso_inter_eye_distance"]
    assert list(panels).index("bbox_left") > list(panels).index("iso_sharpness")
    assert html.count("<svg") == len(panels) and "<script" not in scanned[0].read_text()


def test_a_thumbnail_is_shown_only_for_the_content_that_was_assessed(tmp_path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    sample = source / "sub" / "a.jpg"
    sample.write_bytes(b"first")
    digest = hashlib.sha256(b"first").hexdigest()
    assert sample_path([source], "sub/a.jpg", digest) == sample
    assert sample_path([tmp_path / "elsewhere", source], "sub/a.jpg", digest) == sample
    (tmp_path / "outside.jpg").write_bytes(b"first")
    assert sample_path([source], "../outside.jpg", digest) is None  # not inside a source
    assert sample_path([source], "sub/a.jpg", None) is None
    sample.write_bytes(b"changed since the scan")
    assert sample_path([source], "sub/a.jpg", digest) is None


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (the browser's own background requests left out)."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start and "file://" in event["params"].get("network_isolation_key", "")
    ]


def offline_chromium(chromium: str, folder: Path, *extra: str) -> list[str]:
    """Headless Chromium with no host resolvable, logging the page's requests to net.json."""
    return [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--log-net-log={folder / 'net.json'}",
        "--virtual-time-budget=15000",
        f"--user-data-dir={folder / 'profile'}",
        *extra,
    ]


@pytest.mark.timeout(300)
def test_chromium_renders_the_report_with_every_host_unreachable(
    chromium, scanned, tmp_path, screenshot_shows_a_page
):
    report = scanned[0].as_uri()
    browser = offline_chromium(chromium, tmp_path, "--window-size=1280,2400")
    dom = subprocess.run(
        [*browser, "--dump-dom", report], capture_output=True, text=True, timeout=120
    ).stdout
    assert "Quality report · faces" in dom
    assert "Mean grey level of the whole image." in dom  # a panel's caption
    requests = page_requests(tmp_path / "net.json")
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    shot = tmp_path / "report.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", report], timeout=120, check=True, capture_output=True
    )
    screenshot_shows_a_page(shot, (2400, 1280))


def test_page_requests_sees_what_a_page_asks_of_another_host(chromium, tmp_path):
    """The network-log reading above finds a request when there is one."""
    page = tmp_path / "external.html"
    page.write_text('<img src="https://example.com/x.png">')
    browser = offline_chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    subprocess.run(browser, capture_output=True, timeout=120)
    assert "https://example.com/x.png" in page_requests(tmp_path / "net.json")


def test_the_report_says_what_the_latest_snapshot_changed(tmp_path):
    def latest_change(html: str) -> str:
        return re.search(r"Latest snapshot \d+ \([^)]*since snapshot \d+\): (.*?) rows", html)[1]

    store = Store(tmp_path / "store")
    store.create_dataset("ds", "face")  # a snapshot of its own, with no rows
    store.append("ds", rows=[{"file": f"{n}.jpg", "sha256": "a" * 64} for n in "abc"])
    assert latest_change(build_report("ds", store)) == "3 added, 0 changed, 0 removed"
    changed = [{"file": "a.jpg", "sha256": "b" * 64}, {"file": "d.jpg", "sha256": "c" * 64}]
    store.append("ds", rows=changed)
    assert latest_change(build_report("ds", store)) == "1 added, 1 changed, 0 removed"


def test_datasets_without_values_still_get_a_report(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("broken", "face")
    store.append("broken", errors=[{"file": "x.jpg", "sha256": None, "reason": "not an image"}])
    html = build_report("broken", store)
    assert "<code>x.jpg</code>" in section(html, "bqat-errors")
    assert "No measure holds a value yet" in html
    store.create_dataset("sparse", "face")
    store.append("sparse", rows=[{"file": "a.jpg", "sha256": "a" * 64, "brightness": 3.0}])
    sparse = build_report("sparse", store)
    assert 'id="panel-brightness"' in sparse and 'id="panel-contrast"' not in sparse


def test_a_large_duplicate_group_shows_its_first_names_and_counts_the_rest(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("ds", "face")
    store.append("ds", rows=[{"file": f"{i:02d}.jpg", "sha256": "c" * 64} for i in range(15)])
    duplicates = section(build_report("ds", store), "bqat-duplicates")
    assert duplicates.count("<code>") == 12 and "<code>11.jpg</code>" in duplicates
    assert "and 3 more" in duplicates


def test_the_report_of_a_scan_gives_verdicts_and_pictures_of_the_worst_samples(scanned):
    html = scanned[0].read_text()
    verdicts = section(html, "bqat-verdicts")
    counts = dict(
        (v, int(n))
        for n, v in re.findall(r'<span class="\w+">(\d+) (pass|fail|unknown)</span>', verdicts)
    )
    assert sum(counts.values()) == 9  # every assessed file (the broken one is an error)
    assert "<code>iso_head_pose_yaw</code>" in verdicts and "ISO/IEC 39794-5" in verdicts
    worst = section(html, "bqat-samples")
    rows = re.findall(r"<tr><td>.*?</tr>", worst)
    assert len(rows) == 9
    assert all('src="data:image/jpeg;base64,' in row for row in rows)
    assert 'id="bqat-warning"' not in html  # faces were found


def fingerprint_report(store: Store, nfiq2: dict[str, int | None], **options) -> str:
    """The report of a fingerprint dataset whose rows pass every component but `nfiq2`."""
    good = {t.measure: t.minimum for t in get_profile("fingerprint").thresholds}
    good["empty_image_or_contrast_too_low"] = 250.0
    store.create_dataset("fp", "fingerprint")
    rows = [{**good, "file": f, "sha256": "a" * 64, "nfiq2": v} for f, v in nfiq2.items()]
    store.append("fp", rows=rows)
    return build_report("fp", store, **options)


def worst_files(html: str) -> list[str]:
    """The file column of the worst samples' table, top to bottom."""
    rows = re.findall(r"<tr><td>(.*?)</tr>", section(html, "bqat-samples"))
    return [re.findall(r"<td><code>([^<]+)</code></td>", row)[0] for row in rows]


def test_the_verdict_section_counts_verdicts_and_failing_components(tmp_path):
    html = fingerprint_report(
        Store(tmp_path / "store"), {"a.png": 34, "b.png": 35, "c.png": None, "d.png": 80}
    )
    verdicts = section(html, "bqat-verdicts")
    assert re.findall(r'<span class="(\w+)">(\d+) \1</span>', verdicts) == [
        ("pass", "2"),
        ("fail", "1"),
        ("unknown", "1"),
    ]
    nfiq2 = re.search(r"<tr><td><code>nfiq2</code></td>(.*?)</tr>", verdicts)[1]
    cells = re.findall(r"<td>(.*?)</td>", nfiq2)
    assert cells[0] == "≥ 35" and re.findall(r">(\d+)<", "".join(cells[1:3])) == ["1", "1"]
    assert "NIST publishes no universal pass mark" in cells[3]
    # worst first by the profile's score, nfiq2 (higher is better), rows without one last
    assert worst_files(html) == ["a.png", "b.png", "d.png", "c.png"]
    samples = section(html, "bqat-samples")
    assert '<span class="fail">fail</span></td><td><code>nfiq2</code>' in samples
    assert '<span class="unknown">unknown</span></td><td><code>nfiq2</code> null' in samples
    assert '<a href="/scan/fp/profiles?format=csv&amp;profile=nfiq2-35">' in samples
    panels = re.findall(r'id="panel-(\w+)"', section(html, "bqat-distributions"))
    assert panels[:2] == ["nfiq2", "uniform_image"]  # the score, then the components


def test_the_worst_samples_follow_a_chosen_measure_or_the_verdicts(tmp_path):
    store = Store(tmp_path / "store")
    by_foreground = fingerprint_report(
        store, {"a.png": 90, "b.png": 20}, worst_by="mmb"
    )  # mmb holds no value: every row ties, then by file
    assert worst_files(by_foreground) == ["a.png", "b.png"]
    store.create_dataset("faces", "face")
    profile = get_profile("face")
    frontal = {t.measure: t.minimum for t in profile.thresholds}
    store.append(
        "faces",
        rows=[
            {**frontal, "file": "ok.jpg", "sha256": "a" * 64},
            {**frontal, "file": "turned.jpg", "sha256": "b" * 64, "iso_head_pose_yaw": 30.0},
            {
                **frontal,
                "file": "small.jpg",
                "sha256": "c" * 64,
                "iso_head_pose_yaw": 30.0,
                "iso_inter_eye_distance": 40.0,
            },
            {"file": "none.jpg", "sha256": "d" * 64, "face_count": 0},
        ],
    )
    html = build_report("faces", store)
    # face has no overall score: failing first, the most failed components first
    assert worst_files(html) == ["small.jpg", "none.jpg", "turned.jpg", "ok.jpg"]
    assert "has no overall quality score" in section(html, "bqat-samples")
    with pytest.raises(ConfigError, match="cannot rank samples by 'file'"):
        build_report("faces", store, worst_by="file")


def test_a_banner_says_when_most_samples_look_like_another_modality(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("prints", "face")  # fingerprints scanned as faces: no face anywhere
    store.append(
        "prints", rows=[{"file": f"{i}.png", "sha256": "a" * 64, "face_count": 0} for i in range(3)]
    )
    html = build_report("prints", store)
    banner = re.search(r'<div class="banner" id="bqat-warning" role="alert">(.*?)</div>', html)[1]
    assert banner.startswith("100% of the 3 assessed samples fail the face presence check")
    assert html.index('id="bqat-warning"') < html.index('id="bqat-verdicts"')
