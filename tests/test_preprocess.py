"""bqat.preparation, option by option, against expectations computed without it: Pillow or
soundfile on the same input, or synthetic inputs whose converted size and values are known."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image, ImageCms, ImageOps

from bqat.engines.fingerprint.resolution import wsq_ppi
from bqat.exceptions import ConfigError
from bqat.ingest import Skipped
from bqat.preparation import (
    MANIFEST,
    OutputTaken,
    check_options,
    check_output,
    claimed_output,
    convert_batch,
    default_output,
    plan,
    write_new,
)
from bqat.wsq import encode_wsq


def run(source: Path, output: Path, **options) -> tuple[list[str], list[Skipped]]:
    """Plan and convert everything; (written output names, every error), sorted."""
    checked = check_options(options)
    work = plan(source, checked)
    outcome = convert_batch(work.jobs, output, checked)
    assert len(outcome.written) + len(outcome.errors) == len(work.jobs)
    return sorted(outcome.written), sorted([*work.errors, *outcome.errors], key=lambda e: e.name)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


def checkerboard(height: int, width: int) -> np.ndarray:
    """Alternating 0 and 255 pixels: every even-sized block averages to 127.5."""
    rows, cols = np.indices((height, width))
    board = ((rows + cols) % 2 * 255).astype(np.uint8)
    return np.dstack([board] * 3)


@pytest.mark.parametrize(
    ("options", "size"),
    [({"scale": 0.5}, (30, 20)), ({"resize_width": 15}, (15, 10))],
)
def test_shrinking_averages_areas_and_keeps_the_aspect(source, tmp_path, options, size):
    Image.fromarray(checkerboard(40, 60)).save(source / "board.png")
    written, errors = run(source, tmp_path / "out", format="png", **options)
    assert (written, errors) == (["board.png"], [])
    with Image.open(tmp_path / "out" / "board.png") as out:
        assert out.size == size
        values = np.asarray(out)
    assert np.all(np.abs(values.astype(float) - 127.5) <= 0.5)  # area: the mean of each block


def test_enlarging_a_flat_image_keeps_its_value(source, tmp_path):
    Image.fromarray(np.full((10, 12, 3), 77, np.uint8)).save(source / "flat.png")
    run(source, tmp_path / "out", scale=2.5)
    out = pixels(tmp_path / "out" / "flat.png")
    assert out.shape == (25, 30, 3) and np.all(out == 77)


def test_grey_mode_matches_pillows_luma(source, tmp_path):
    colours = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(colours).save(source / "colours.png")
    run(source, tmp_path / "out", mode="grey")
    expected = np.asarray(Image.fromarray(colours).convert("L"), dtype=int)
    out = pixels(tmp_path / "out" / "colours.png")
    assert out.ndim == 2 and np.abs(out.astype(int) - expected).max() <= 1


def test_rgb_mode_makes_three_equal_channels_of_a_grey_image(source, tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(grey).save(source / "grey.png")
    run(source, tmp_path / "out", mode="rgb")
    assert np.array_equal(pixels(tmp_path / "out" / "grey.png"), np.dstack([grey] * 3))


def test_jpeg_quality_is_pillows_at_the_same_quality(source, tmp_path):
    image = np.random.default_rng(2).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    Image.fromarray(image).save(source / "noise.png")
    for quality in (20, 95):
        run(source, tmp_path / f"q{quality}", format="jpg", quality=quality)
    ours = {q: tmp_path / f"q{q}" / "noise.jpg" for q in (20, 95)}
    theirs = io.BytesIO()
    Image.fromarray(image).save(theirs, format="JPEG", quality=20)
    assert np.array_equal(pixels(ours[20]), pixels(theirs))
    assert ours[20].stat().st_size < ours[95].stat().st_size


@pytest.mark.parametrize(
    ("fmt", "pillow"), [("tif", "TIFF"), ("webp", "WEBP"), ("png", "PNG"), ("jp2", "JPEG2000")]
)
def test_lossless_formats_hold_the_source_pixels(source, tmp_path, fmt, pillow):
    image = np.random.default_rng(3).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(image).save(source / "a.bmp")
    written, _ = run(source, tmp_path / "out", format=fmt)
    assert written == [f"a.{fmt}"]
    with Image.open(tmp_path / "out" / written[0]) as out:
        assert out.format == pillow
        assert np.array_equal(np.asarray(out.convert("RGB")), image)


def read_wsq(data: bytes) -> np.ndarray:
    """NBIS's reconstruction of a WSQ file (the `wsq` package through Pillow), checked grey."""
    import wsq  # noqa: F401  (Pillow reads WSQ through it)

    assert data[:2] == b"\xff\xa0"
    with Image.open(io.BytesIO(data)) as out:
        assert (out.format, out.mode) == ("WSQ", "L")
        return np.asarray(out, dtype=float)


def test_wsq_is_grey_at_the_bit_rate_asked_and_reads_back_within_the_codecs_error(source, tmp_path):
    rows, cols = np.indices((240, 200))
    ridges = (127.5 + 100 * np.sin(2 * np.pi * (rows + cols) / 9)).astype(np.uint8)
    Image.fromarray(np.dstack([ridges] * 3)).save(source / "print.png")
    errors = {}
    for bitrate in (None, 2.25):  # None: the default, 0.75 bit/pixel
        options = {"format": "wsq"} | ({"bitrate": bitrate} if bitrate else {})
        written, failed = run(source, tmp_path / f"{bitrate}", **options)
        assert (written, failed) == (["print.wsq"], [])
        data = (tmp_path / f"{bitrate}" / "print.wsq").read_bytes()
        back = read_wsq(data)
        assert back.shape == (240, 200)
        # a pure sine's coefficients take few values, so the size moves in steps: +3.4 % at
        # 0.75 here, within 0.5 % on the fingerprint samples (test_wsq_encoder.py)
        assert len(data) * 8 / ridges.size == pytest.approx(bitrate or 0.75, rel=0.05)
        errors[bitrate] = np.abs(back - ridges).mean()
    assert errors[2.25] < errors[None] < 6  # measured 0.5 and 4.6: lossy, not wrong


def png_at(dpi: float):
    def save(image: Image.Image, path: Path) -> Path:
        image.save(path.with_suffix(".png"), dpi=(dpi, dpi))
        return path.with_suffix(".png")

    return save


def bmp_at_96_dpi(image: Image.Image, path: Path) -> Path:
    image.save(path.with_suffix(".bmp"), dpi=(96, 96))  # a display default, not a scan's
    return path.with_suffix(".bmp")


def wsq_at_800_ppi(image: Image.Image, path: Path) -> Path:
    path.with_suffix(".wsq").write_bytes(encode_wsq(np.asarray(image), ppi=800, bitrate=2.0))
    return path.with_suffix(".wsq")


@pytest.mark.parametrize(
    ("write", "options", "ppi"),
    [
        (png_at(762), {"scale": 0.5}, 381),
        (png_at(1000), {"resize_width": 75}, 500),
        (png_at(1000), {}, 1000),
        (bmp_at_96_dpi, {}, 500),
        (wsq_at_800_ppi, {"scale": 0.5}, 400),
    ],
)
def test_wsq_records_the_sources_resolution_times_the_resize(source, tmp_path, write, options, ppi):
    rows, cols = np.indices((120, 150))
    ridges = (127.5 + 100 * np.sin(2 * np.pi * (rows + cols) / 9)).astype(np.uint8)
    name = write(Image.fromarray(ridges), source / "print").name
    written, failed = run(source, tmp_path / "out", format="wsq", **options)
    assert (written, failed) == (["print.wsq"], []), name
    data = (tmp_path / "out" / "print.wsq").read_bytes()
    assert wsq_ppi(data) == ppi


def test_an_image_too_small_for_wsq_is_an_error_with_the_reason(source, tmp_path):
    Image.fromarray(np.full((30, 40), 128, np.uint8)).save(source / "tiny.png")
    written, failed = run(source, tmp_path / "out", format="wsq")
    assert written == []
    assert [(e.name, e.reason) for e in failed] == [
        (
            "tiny.png",
            "NativeError: wsq_encode: the image must be 49 to 65535 pixels on each "
            "side, got 40 x 30",
        )
    ]


def test_exif_orientation_is_applied_as_pillow_applies_it(source, tmp_path):
    image = Image.fromarray(np.random.default_rng(4).integers(0, 256, (10, 30, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: rotate 90 degrees clockwise to show it
    image.save(source / "turned.png", exif=exif)
    run(source, tmp_path / "out")
    with Image.open(source / "turned.png") as original:
        expected = np.asarray(ImageOps.exif_transpose(original).convert("RGB"))
    assert np.array_equal(pixels(tmp_path / "out" / "turned.png"), expected)


def swapped_primaries_profile() -> bytes:
    """sRGB's ICC profile with the red and blue primaries exchanged: its (r, g, b) is sRGB's
    (b, g, r), a conversion anyone can predict."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    tags = {}
    for i in range(struct.unpack(">I", data[128:132])[0]):
        signature, offset, size = struct.unpack(">4sII", data[132 + 12 * i : 144 + 12 * i])
        tags[signature] = (132 + 12 * i, offset, size)
    (red_at, *red), (blue_at, *blue) = tags[b"rXYZ"], tags[b"bXYZ"]
    struct.pack_into(">4sII", data, red_at, b"rXYZ", *blue)
    struct.pack_into(">4sII", data, blue_at, b"bXYZ", *red)
    return bytes(data)


def test_an_embedded_icc_profile_is_converted_to_srgb(source, tmp_path):
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[:] = (200, 50, 10)
    Image.fromarray(colour).save(source / "tagged.png", icc_profile=swapped_primaries_profile())
    run(source, tmp_path / "out")
    out = pixels(tmp_path / "out" / "tagged.png").astype(int)
    assert np.abs(out - (10, 50, 200)).max() <= 1


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_a_48_khz_tone_resampled_to_16_khz_keeps_its_frequency_and_level(source, tmp_path):
    soundfile.write(source / "tone.wav", tone(1000, 48_000, 1.0), 48_000, subtype="PCM_16")
    written, errors = run(source, tmp_path / "out", sample_rate=16_000, format="flac")
    assert (written, errors) == (["tone.flac"], [])
    samples, rate = soundfile.read(tmp_path / "out" / "tone.flac")
    assert rate == 16_000 and abs(len(samples) - 16_000) <= 1
    assert abs(peak_hz(samples, rate) - 1000) <= 1
    middle = samples[1000:-1000]  # away from the resampler's edges
    assert abs(np.sqrt(np.mean(middle**2)) - 0.5 / np.sqrt(2)) < 0.005


def test_one_channel_is_the_mean_of_the_channels(source, tmp_path):
    left, right = tone(300, 8000, 0.5, 0.6), tone(700, 8000, 0.5, 0.2)
    soundfile.write(source / "stereo.flac", np.stack([left, right], 1), 8000, subtype="PCM_24")
    run(source, tmp_path / "out", channels=1, format="wav")
    samples, rate = soundfile.read(tmp_path / "out" / "stereo.wav", always_2d=True)
    info = soundfile.info(tmp_path / "out" / "stereo.wav")
    assert (rate, samples.shape[1], info.subtype) == (8000, 1, "PCM_24")
    assert np.abs(samples[:, 0] - (left + right) / 2).max() < 1e-5


def test_hostile_inputs_are_each_an_error_with_its_reason(source, tmp_path):
    Image.fromarray(checkerboard(8, 8)).save(source / "good.jpg")
    whole = (source / "good.jpg").read_bytes()
    (source / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (source / "text.jpg").write_text("this is not an image")
    (source / "loop.jpg").symlink_to("loop.jpg")
    (source / "empty.png").write_bytes(b"")
    written, errors = run(source, tmp_path / "out", format="png")
    assert written == ["good.png"]
    reasons = {e.name: e.reason for e in errors}
    assert set(reasons) == {"truncated.jpg", "text.jpg", "loop.jpg", "empty.png"}
    assert "loop" in reasons["loop.jpg"]
    assert "not a supported image" in reasons["text.jpg"]
    assert "truncated" in reasons["truncated.jpg"].lower()
    assert "empty" in reasons["empty.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]  # no leftovers


def test_outputs_mirror_the_tree_and_two_inputs_never_share_an_output(source, tmp_path):
    (source / "a" / "b").mkdir(parents=True)
    for name in ("a/b/x.jpg", "a/b/x.png", "y.tif"):
        Image.fromarray(checkerboard(4, 4)).save(source / name)
    soundfile.write(source / "a" / "voice.wav", tone(440, 8000, 0.1), 8000)
    written, errors = run(source, tmp_path / "out", format="png", pattern=r"^a/")
    assert written == ["a/b/x.png"]
    assert errors == [Skipped("a/b/x.png", "its output 'a/b/x.png' is that of 'a/b/x.jpg'")]
    everything, _ = run(source, tmp_path / "all")  # no option: images and recordings as they are
    assert everything == ["a/b/x.jpg", "a/b/x.png", "a/voice.wav", "y.tif"]


def test_a_file_is_never_overwritten(tmp_path):
    target = tmp_path / "kept.png"
    target.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        write_new(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.png"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "grey"}, "colour: Extra inputs are not permitted"),
        ({"scale": 0.5, "resize_width": 10}, "resize_width or scale, not both"),
        ({"format": "png", "quality": 80}, "quality applies to format jpg or webp only"),
        ({"format": "wsq", "mode": "rgb"}, "wsq holds grey images only"),
        ({"format": "png", "bitrate": 1.5}, "bitrate applies to format wsq only"),
        ({"bitrate": 1.5}, "bitrate applies to format wsq only"),
        ({"format": "wsq", "bitrate": 9}, "bitrate: Input should be less than or equal to 8"),
        ({"format": "wsq", "bitrate": 0.05}, "bitrate: Input should be greater than or equal"),
        ({"format": "wav", "scale": 2}, "cannot be mixed"),
        ({"sample_rate": 100}, "sample_rate"),
        ({"channels": 2}, "channels"),
        ({"pattern": "("}, "pattern"),
        ({"format": "gif"}, "format"),
    ],
)
def test_options_are_strict(options, message):
    with pytest.raises(ConfigError, match="invalid preprocessing options") as raised:
        check_options(options)
    assert message in str(raised.value)


def test_the_output_is_a_new_folder_outside_the_source(source, tmp_path):
    options = check_options({})
    with pytest.raises(OutputTaken, match="exists"):
        check_output(source, tmp_path, options)
    with pytest.raises(ConfigError, match="inside the input"):
        check_output(source, source / "out", options)
    (tmp_path / "link").symlink_to(source)
    with pytest.raises(ConfigError, match="inside the input"):
        check_output(source, tmp_path / "link" / "out", options)
    check_output(source, tmp_path / "elsewhere", options)


def test_only_an_unheld_output_of_the_same_source_and_options_is_taken_again(source, tmp_path):
    grey, rgb = check_options({"mode": "grey"}), check_options({"mode": "rgb"})
    out = tmp_path / "out"
    with claimed_output(source, out, grey):
        assert json.loads((out / MANIFEST).read_text()) == {
            "source": str(source.resolve()),
            "options": {"mode": "grey"},
        }
        with pytest.raises(OutputTaken, match="another run is writing"):
            check_output(source, out, grey)
        with (
            pytest.raises(OutputTaken, match="another run is writing"),
            claimed_output(source, out, grey),
        ):
            pass
    (out / "kept.png").write_bytes(b"whole")
    (out / "nested").mkdir()
    leftover = out / "nested" / f".b.png.{'0' * 32}.part"
    leftover.write_bytes(b"half")
    for other_source, options in ((tmp_path, grey), (source, rgb)):
        with pytest.raises(OutputTaken, match="not an interrupted preprocessing"):
            check_output(other_source, out, options)
    assert leftover.exists()
    with claimed_output(source, out, grey):
        assert not leftover.exists() and (out / "kept.png").read_bytes() == b"whole"
    (out / MANIFEST).unlink()
    with pytest.raises(OutputTaken, match="not an interrupted preprocessing"):
        check_output(source, out, grey)


def test_the_default_output_is_named_after_the_source_and_the_run(tmp_path):
    run_id = "0123abcd-0000-4000-8000-000000000000"
    first, second = tmp_path / "first", tmp_path / "second"
    source = second / "faces" / "2024"
    assert default_output(source, run_id) == second / "faces" / "2024-prep-0123abcd"
    assert default_output(source, run_id, [first, second]) == first / "faces" / "2024-prep-0123abcd"
