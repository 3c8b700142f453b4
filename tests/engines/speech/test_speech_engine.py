"""The speech engine through the public interface: decoding by content, options, the declared
schema, and a scan that stores rows, error rows, outliers and a report."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from speech_reference import speech_like, tone, wav_bytes

import bqat
from bqat.engines import get_engine
from bqat.measures import quality_columns

RECORD = [
    "file",
    "duration_s",
    "sample_rate",
    "channels",
    "bit_depth",
    "active_speech_level_dbov",
    "speech_activity",
    "loudness_lufs",
    "peak_dbfs",
    "clipping_ratio",
    "dc_offset",
    "bandwidth_hz",
    "snr_db",
    "dnsmos_sig",
    "dnsmos_bak",
    "dnsmos_ovrl",
    "dnsmos_p808",
    "measure_errors",
]
SIGNAL_ONLY = {"dnsmos": False}


def test_the_record_has_the_designs_fields_in_order():
    record = bqat.assess(wav_bytes(tone(1.0, 16000), 16000), "speech", **SIGNAL_ONLY)
    assert list(record) == RECORD
    assert record["file"] is None
    spec = bqat.specification("speech")
    assert list(spec) == RECORD[:-1]
    assert (
        spec["loudness_lufs"]["unit"] == "LUFS"
        and spec["loudness_lufs"]["clause"] == "ITU-R BS.1770-4"
    )
    assert spec["active_speech_level_dbov"]["clause"] == "ITU-T P.56 (method B)"
    assert (
        spec["dnsmos_p808"]["clause"] == "ITU-T P.808"
        and spec["dnsmos_ovrl"]["clause"] == "ITU-T P.835"
    )
    assert all(spec[name]["unit"] for name in RECORD[1:-1])


def test_quality_columns_are_the_measures_with_a_direction():
    # Every measure after the file's format (duration, rate, channels, depth); not the errors.
    assert quality_columns("speech") == RECORD[5:-1]


def test_the_engine_declares_its_models_and_extensions():
    engine = get_engine("speech")
    assert engine.models == ("dnsmos_p835", "dnsmos_p808")
    assert engine.extensions == frozenset({".wav", ".flac"})


def test_info_lists_every_onnx_session_the_engine_uses_with_its_file(monkeypatch, shared):
    from api.routes.meta import info
    from bqat.engines.speech import p835
    from bqat.models import get_spec, runtime

    monkeypatch.setattr(runtime, "_sessions", {})
    p835_file = get_spec("dnsmos_p835")
    expected = {
        "dnsmos_p835": p835_file,
        "dnsmos_p835/front": p835_file,
        "dnsmos_p835/tail": p835_file,
        "dnsmos_p808": get_spec("dnsmos_p808"),
    }
    listed = {s.name: s for s in info.fn().sessions}
    assert {name: (s.file, s.sha256) for name, s in listed.items() if name in expected} == {
        name: (spec.file, spec.sha256) for name, spec in expected.items()
    }
    assert not any(s.loaded for s in listed.values())
    p835.split_sessions("dnsmos_p835")
    after = info.fn()
    loaded = {s.name for s in after.sessions if s.loaded}
    assert loaded == {"dnsmos_p835/front", "dnsmos_p835/tail"} and after.loaded_sessions == 2
    assert {m.name for m in after.models if m.loaded} == {"dnsmos_p835"}


def test_mp3_data_under_a_wav_name_is_decoded_by_content(tmp_path):
    x = speech_like(2.0, 16000, seed=1)
    path = tmp_path / "really_an.mp3.wav"
    path.write_bytes(wav_bytes(x, 16000, "MPEG_LAYER_III", "MP3"))
    record = bqat.assess(path, "speech", **SIGNAL_ONLY)
    assert record["file"] == str(path)
    assert record["sample_rate"] == 16000 and record["channels"] == 1
    assert record["bit_depth"] is None  # lossy
    assert record["duration_s"] == pytest.approx(2.0, abs=0.1)
    pcm = bqat.assess(wav_bytes(x, 16000), "speech", **SIGNAL_ONLY)
    assert record["active_speech_level_dbov"] == pytest.approx(
        pcm["active_speech_level_dbov"], abs=0.5
    )


def test_flac_and_24_bit_wav_keep_their_bit_depth():
    x = 0.5 * speech_like(1.0, 22050, seed=2)
    flac = bqat.assess(wav_bytes(x, 22050, "PCM_24", "FLAC"), "speech", **SIGNAL_ONLY)
    wav = bqat.assess(wav_bytes(x, 22050, "PCM_24"), "speech", **SIGNAL_ONLY)
    assert flac["bit_depth"] == wav["bit_depth"] == 24
    assert flac["active_speech_level_dbov"] == pytest.approx(
        wav["active_speech_level_dbov"], abs=1e-4
    )


def test_stereo_is_measured_on_the_mono_mix_and_clipping_on_every_channel():
    fs = 16000
    left = tone(2.0, fs, peak_dbfs=-6.0, hz=500.0)
    right = np.clip(tone(2.0, fs, peak_dbfs=6.0, hz=500.0, phase=np.pi), -1, 1)  # clipped
    record = bqat.assess(wav_bytes(np.stack([left, right], 1), fs), "speech", **SIGNAL_ONLY)
    mono = bqat.assess(wav_bytes((left + right) / 2, fs), "speech", **SIGNAL_ONLY)
    assert record["channels"] == 2
    assert record["active_speech_level_dbov"] == pytest.approx(
        mono["active_speech_level_dbov"], abs=1e-3
    )
    assert record["loudness_lufs"] == pytest.approx(mono["loudness_lufs"], abs=1e-3)
    assert record["peak_dbfs"] == pytest.approx(0.0, abs=0.01)  # the clipped channel's peak
    assert record["clipping_ratio"] == pytest.approx(mono_clipped_share(right) / 2, abs=1e-3)
    assert mono["clipping_ratio"] == 0.0


def mono_clipped_share(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.round(x * 32767)) >= 32767))


def test_an_array_with_its_sample_rate_is_assessed():
    x = speech_like(1.0, 8000, seed=3)
    from_array = bqat.assess((x.astype(np.float32), 8000), "speech", **SIGNAL_ONLY)
    from_pcm = bqat.assess(((x * 32767).astype(np.int16), 8000), "speech", **SIGNAL_ONLY)
    assert from_array["bit_depth"] is None and from_array["sample_rate"] == 8000
    assert from_pcm["active_speech_level_dbov"] == pytest.approx(
        from_array["active_speech_level_dbov"], abs=0.01
    )


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (b"this is plain text, not audio" * 20, "not a readable audio file: Format not recognised"),
        (b"", "empty input"),
        (np.zeros(100, np.float32), r"needs its sample rate: pass \(array, sample_rate\)"),
        ((np.zeros(100, np.float32), 200), "sample rate 200 Hz is below 1000 Hz"),
        ((np.zeros(0, np.float32), 8000), "holds no samples"),
        ((np.full(100, np.nan, np.float32), 8000), "non-finite"),
    ],
)
def test_what_is_not_usable_audio_is_an_input_error(sample, reason):
    with pytest.raises(bqat.InputError, match=reason):
        bqat.assess(sample, "speech")


def test_a_non_audio_file_with_a_wav_name_is_an_input_error(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio\n" * 50)
    with pytest.raises(bqat.InputError, match="not a readable audio file"):
        bqat.assess(path, "speech")


def test_the_duration_limit_is_checked_before_decoding():
    with pytest.raises(bqat.InputError, match=r"lasts 2\.0 s, over the limit of 1 s"):
        bqat.assess(wav_bytes(tone(2.0, 8000), 8000), "speech", max_duration_s=1)


def test_options_are_strict():
    x = wav_bytes(tone(1.0, 8000), 8000)
    with pytest.raises(bqat.ConfigError, match="speech options"):
        bqat.assess(x, "speech", confidence=0.5)
    with pytest.raises(bqat.ConfigError, match="dnsmos_hop_s"):
        bqat.assess(x, "speech", dnsmos_hop_s=0.1)


def test_without_dnsmos_the_scores_are_null_without_an_error():
    record = bqat.assess(wav_bytes(speech_like(1.0, 16000, 4), 16000), "speech", **SIGNAL_ONLY)
    assert record["dnsmos_ovrl"] is None and record["measure_errors"] == {}


def test_a_longer_hop_scores_fewer_windows():
    from bqat.engines.speech.dnsmos import windows

    audio = np.zeros(30 * 16000, np.float32)
    assert len(windows(audio, 1.0)) == 21  # int(30 - 9.01) + 1, as the reference
    assert len(windows(audio, 9.01)) == 3
    assert len(windows(np.zeros(8000, np.float32))) == 7  # 0.5 s doubled to 16 s


def test_a_scan_stores_rows_errors_outliers_and_a_report(tmp_path, samples, prefect_server):
    from bqat.outliers import read_outliers
    from bqat.report_files import report_path

    folder = tmp_path / "voices"
    folder.mkdir()
    shutil.copy(samples / "speech" / "stateless_speech.wav", folder / "sample.wav")
    for i in range(5):
        x = speech_like(2.0, 16000, seed=10 + i) * (0.5 + 0.1 * i)
        (folder / f"voice{i}.flac").write_bytes(wav_bytes(x, 16000, "PCM_16", "FLAC"))
    (folder / "silence.wav").write_bytes(wav_bytes(np.zeros(16000), 16000))
    (folder / "broken.wav").write_text("not audio\n" * 20)
    (folder / "ignored.mp3").write_bytes(wav_bytes(tone(1.0, 16000), 16000))

    summary = bqat.scan(folder, "speech", dataset_id="voices", dnsmos=False)
    assert (summary.discovered, summary.assessed, summary.failed) == (8, 7, 1)
    rows = {r["file"]: r for r in bqat.profiles("voices")}
    assert rows["sample.wav"]["active_speech_level_dbov"] == pytest.approx(-8.61, abs=0.05)
    assert rows["silence.wav"]["speech_activity"] == 0.0
    assert "loudness_lufs" in rows["silence.wav"]["measure_errors"]
    [error] = bqat.errors("voices")
    assert error["file"] == "broken.wav" and "not a readable audio file" in error["reason"]
    outliers = read_outliers("voices")
    assert outliers is not None and "active_speech_level_dbov" in outliers["columns"]
    html = report_path("voices").read_text()
    assert "active_speech_level_dbov" in html and "LUFS" in html
    flagged = len(outliers["outliers"])
    shown = html[html.index('id="bqat-outliers"') : html.index('id="bqat-duplicates"')]
    assert flagged and shown.count('<img src="data:image/png;base64,') == flagged  # waveforms


def test_the_api_assesses_an_uploaded_recording_and_specifies_the_columns(samples, prefect_server):
    import base64

    from litestar.testing import TestClient

    from api.app import create_app

    data = (samples / "speech" / "stateless_speech.wav").read_bytes()
    with TestClient(create_app()) as client:
        response = client.post(
            "/assess",
            json={
                "modality": "speech",
                "data": base64.b64encode(data).decode(),
                "filename": "voice.wav",
                "options": {"dnsmos": False},
            },
        )
        assert response.status_code == 200, response.text
        record = response.json()
        assert record["file"] == "voice.wav"
        assert record["active_speech_level_dbov"] == pytest.approx(-8.61, abs=0.05)
        not_audio = client.post(
            "/assess", files={"file": ("a.wav", b"hello")}, data={"modality": "speech"}
        )
        assert 400 <= not_audio.status_code < 500  # an InputError: the API maps it
        assert "not a readable audio file" in not_audio.text
        spec = client.get("/specification", params={"modality": "speech"}).json()
        assert "dnsmos_p808" in str(spec)
