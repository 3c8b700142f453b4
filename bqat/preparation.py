"""Preparing a dataset: convert, resize and re-encode a folder's images or recordings into a new
folder, as BQAT-API's preprocessing did, without ever writing into the source.

Inputs are found as a scan finds them (bqat.ingest: by extension, links kept inside the folder,
each real file once) and decoded by content (bqat.decode for images, EXIF orientation applied;
libsndfile for audio). Every input ends as an output file, under its relative path with the new
extension, or as a `Skipped` entry with the reason: a file that cannot be decoded or written, a link
that loops, two inputs that would share one output name. Nothing is overwritten: each output is
written to a temporary name and then hard-linked to its own name, which fails if it exists.

A run writes a manifest (source and options) into its new output folder first and holds a lock
on it while it writes. A run that was killed can therefore be completed by running it again into
the same folder: the outputs present are complete (a hard link appears whole) and kept, the
temporary files it left are removed, and the rest is converted. A folder without the same
manifest, or one that another run holds, is refused (`OutputTaken`).

Images come out 8-bit (16-bit inputs are scaled, transparency composited over white). An
embedded ICC profile of a colour image is converted to sRGB through Pillow's LittleCMS; a grey
image's profile is dropped unconverted (Pillow converts colour profiles only). WSQ is written by
our encoder (bqat.wsq) at the `bitrate` asked for (bits per pixel, default 0.75) and records the
image's resolution: the source's, read as the fingerprint engine reads it
(bqat.engines.fingerprint.resolution: JPEG/PNG/TIFF/BMP density, WSQ's NISTCOM), times the resize
factor; a source that declares none, or a value outside 300-5000 ppi (a display default such as
96 dpi), counts as 500 ppi.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import cv2
import numpy as np
import soundfile
import soxr
from PIL import Image, ImageCms
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bqat.decode import decode_image
from bqat.engines.fingerprint.resolution import choose, header_ppi
from bqat.engines.speech.audio import MIN_SAMPLE_RATE, decode_audio
from bqat.engines.speech.options import SpeechOptions
from bqat.exceptions import ConfigError, InputError
from bqat.ingest import Skipped, discover_all
from bqat.wsq import DEFAULT_BITRATE, MAX_BITRATE, MIN_BITRATE, encode_wsq

IMAGE_FORMATS = {  # option -> (Pillow format, extension)
    "png": ("PNG", ".png"),
    "jpg": ("JPEG", ".jpg"),
    "jp2": ("JPEG2000", ".jp2"),
    "webp": ("WEBP", ".webp"),
    "tif": ("TIFF", ".tif"),
    "wsq": ("WSQ", ".wsq"),
}
AUDIO_FORMATS = {"wav": ("WAV", ".wav"), "flac": ("FLAC", ".flac")}
# Pillow's format for each image extension discovery takes, when no `format` is asked for.
_IMAGE_BY_EXTENSION = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jp2": "JPEG2000",
    ".j2k": "JPEG2000",
    ".webp": "WEBP",
    ".wsq": "WSQ",
}
# Discovery by extension as a scan of these modalities does it (all image modalities take the
# same extensions).
IMAGE_MODALITY = "face"
AUDIO_MODALITY = "speech"
DEFAULT_QUALITY = 90
IMAGE_KEYS = ("mode", "resize_width", "scale")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # Pillow's one-channel modes
AUDIO_KEYS = ("sample_rate", "channels")
MANIFEST = ".bqat-preprocess.json"  # in the output folder: what made it (source, options)
_PART = ".part"
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{32}" + re.escape(_PART))  # write_new's names


class OutputTaken(ConfigError):
    """The output folder exists and is not an interrupted run of the same source and options,
    or another run is writing it (HTTP 409)."""


class PreprocessOptions(BaseModel):
    """What to do to each file; unknown keys are refused. Image options (`mode`, `resize_width`
    or `scale`, an image `format`, `quality`, `bitrate`) and audio options (`sample_rate`,
    `channels`, an audio `format`) cannot be mixed: the options choose whether images or
    recordings are prepared. With neither, both are re-encoded as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["rgb", "grey"] | None = Field(None, description="Colour mode of the output.")
    resize_width: int | None = Field(
        None, ge=1, le=65_535, description="Output width in pixels; the aspect ratio is kept."
    )
    scale: float | None = Field(None, gt=0, le=16, description="Factor on width and height.")
    format: Literal["png", "jpg", "jp2", "webp", "tif", "wsq", "wav", "flac"] | None = Field(
        None, description="Output format; absent: the input's own (by extension)."
    )
    quality: int | None = Field(
        None,
        ge=1,
        le=100,
        description=f"jpg quality (default {DEFAULT_QUALITY}); webp is lossy at this quality, "
        "lossless without it.",
    )
    bitrate: float | None = Field(
        None,
        ge=MIN_BITRATE,
        le=MAX_BITRATE,
        description=f"wsq bits per pixel (default {DEFAULT_BITRATE}, the FBI's usual, about "
        "15:1); the file's size meets it.",
    )
    sample_rate: int | None = Field(
        None, ge=MIN_SAMPLE_RATE, le=384_000, description="Resampled with soxr (HQ)."
    )
    channels: Literal[1] | None = Field(None, description="1: the mean of the channels.")
    pattern: str | None = Field(
        None, description="A regular expression searched in each path relative to the input."
    )

    @model_validator(mode="after")
    def _consistent(self) -> PreprocessOptions:
        if self.resize_width is not None and self.scale is not None:
            raise ValueError("give resize_width or scale, not both")
        if self.quality is not None and self.format not in ("jpg", "webp"):
            raise ValueError("quality applies to format jpg or webp only")
        if self.bitrate is not None and self.format != "wsq":
            raise ValueError("bitrate applies to format wsq only")
        if self.format == "wsq" and self.mode == "rgb":
            raise ValueError("wsq holds grey images only")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r}: {exc}") from None
        if self.images and self.audio:
            raise ValueError(
                "image options (mode, resize_width, scale, an image format) and audio options "
                "(sample_rate, channels, an audio format) cannot be mixed"
            )
        return self

    @property
    def images(self) -> bool:
        """Whether image options were given."""
        given = any(getattr(self, key) is not None for key in IMAGE_KEYS)
        return given or self.format in IMAGE_FORMATS

    @property
    def audio(self) -> bool:
        """Whether audio options were given."""
        given = any(getattr(self, key) is not None for key in AUDIO_KEYS)
        return given or self.format in AUDIO_FORMATS


def check_options(options: dict[str, Any] | None) -> PreprocessOptions:
    """The options, checked; ConfigError naming every problem."""
    try:
        return PreprocessOptions.model_validate(options or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid preprocessing options: {problems}") from None


@dataclass(frozen=True)
class Job:
    """One input file and the name of its output, both relative ('/'-separated)."""

    path: Path
    name: str
    output: str


@dataclass(frozen=True)
class Plan:
    """The files to convert, sorted by name, and the inputs already known to fail."""

    jobs: list[Job]
    errors: list[Skipped] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.jobs) + len(self.errors)


@dataclass(frozen=True)
class Outcome:
    """What a batch (or a whole run) produced: output names written, and the errors."""

    written: list[str] = field(default_factory=list)
    errors: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class PreprocessSummary:
    """A finished run: where the outputs are, how many inputs became files (`kept`: of those,
    the ones an interrupted earlier run had written), each failure, and the dataset the outputs
    were scanned into (None when they were not)."""

    source: str
    output: str
    total: int
    written: int
    failed: int
    errors: list[Skipped]
    dataset_id: str | None = None
    kept: int = 0


def default_output(source: Path, run_id: str, roots: Sequence[Path] = ()) -> Path:
    """`<source>-prep-<first 8 hex digits of the run id>`: under the first of `roots` at the
    source's path relative to the root that holds it, or beside the source without roots."""
    name = f"{source.name}-prep-{uuid.UUID(run_id).hex[:8]}"
    for root in roots:
        real = Path(root).resolve()
        if source.is_relative_to(real):
            return Path(roots[0]).resolve() / source.relative_to(real).parent / name
    return source.parent / name


def check_output(source: Path, output: Path, options: PreprocessOptions) -> None:
    """ConfigError unless `output` is outside `source` (links resolved) and new, or left by an
    interrupted run of `source` with `options` that no run holds now (`OutputTaken`)."""
    if os.path.lexists(output):
        if not resumable(source, output, options):
            raise OutputTaken(
                f"the output {str(output)!r} exists and is not an interrupted preprocessing of "
                "this input with these options: give a new folder"
            )
        with _locked(output):
            pass
    real_source = Path(os.path.realpath(source))
    if Path(os.path.realpath(output)).is_relative_to(real_source):
        raise ConfigError(f"the output {str(output)!r} is inside the input folder")


def manifest(source: Path, options: PreprocessOptions) -> dict[str, Any]:
    """What a run records in its output folder: the real source folder and the options."""
    return {"source": os.path.realpath(source), "options": options.model_dump(exclude_none=True)}


def resumable(source: Path, output: Path, options: PreprocessOptions) -> bool:
    """Whether the existing `output` is a folder that a run of `source` with `options` made."""
    path = output / MANIFEST
    if output.is_symlink() or not output.is_dir() or path.is_symlink():
        return False
    try:
        return json.loads(path.read_bytes()) == manifest(source, options)
    except (OSError, ValueError):
        return False


@contextmanager
def claimed_output(source: Path, output: Path, options: PreprocessOptions) -> Iterator[None]:
    """Hold `output` for one run: a new folder with its manifest, or a folder an interrupted
    run of the same source and options left, its temporary files removed. OutputTaken when it
    is neither or another run holds it; the lock goes with the process, kill -9 included."""
    try:
        output.mkdir(parents=True)
    except FileExistsError:
        check_output(source, output, options)
        fresh = False
    else:
        write_new(output / MANIFEST, json.dumps(manifest(source, options)).encode())
        fresh = True
    with _locked(output):
        if not fresh:
            _remove_temporaries(output)
        yield


@contextmanager
def _locked(output: Path) -> Iterator[None]:
    """An exclusive lock on the output's manifest; OutputTaken when another run has it."""
    descriptor = os.open(output / MANIFEST, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputTaken(f"another run is writing the output {str(output)!r}") from None
        yield
    finally:
        os.close(descriptor)


def _remove_temporaries(output: Path) -> None:
    """The temporary files of writes an interrupted run did not finish."""
    for folder, _, files in os.walk(output):
        for name in files:
            if _TEMPORARY.fullmatch(name):
                (Path(folder) / name).unlink(missing_ok=True)


def pending(jobs: Iterable[Job], output: Path) -> tuple[list[Job], list[str]]:
    """The jobs whose output is still to write, and the output names already written (a
    present output file is complete: write_new links it whole)."""
    todo: list[Job] = []
    done: list[str] = []
    for job in jobs:
        target = output / job.output
        if target.is_file() and not target.is_symlink():
            done.append(job.output)
        else:
            todo.append(job)
    return todo, done


def plan(source: Path, options: PreprocessOptions) -> Plan:
    """The inputs under `source` (images, recordings or both, as the options say), each with
    its output name; discovery's refusals and output-name clashes are errors."""
    modalities = [
        modality
        for modality, wanted in ((IMAGE_MODALITY, options.images), (AUDIO_MODALITY, options.audio))
        if wanted or not (options.images or options.audio)
    ]
    jobs: list[Job] = []
    errors: list[Skipped] = []
    taken: dict[str, str] = {}
    for modality in modalities:
        found = discover_all(source, modality, pattern=options.pattern)
        errors += found.skipped
        for sample in found.samples:
            output = output_name(sample.name, options.format)
            first = taken.setdefault(output, sample.name)
            if first != sample.name:
                errors.append(Skipped(sample.name, f"its output {output!r} is that of {first!r}"))
            else:
                jobs.append(Job(sample.path, sample.name, output))
    return Plan(sorted(jobs, key=lambda j: j.name), sorted(errors, key=lambda e: e.name))


def output_name(name: str, fmt: str | None) -> str:
    """The input's relative name with the extension of `fmt` (its own when None)."""
    if fmt is None:
        return name
    extension = {**IMAGE_FORMATS, **AUDIO_FORMATS}[fmt][1]
    return PurePosixPath(name).with_suffix(extension).as_posix()


def convert_batch(jobs: Iterable[Job], output: Path, options: PreprocessOptions) -> Outcome:
    """Convert each job into `output`; a file that fails is an error with its reason."""
    outcome = Outcome()
    for job in jobs:
        try:
            convert_file(job.path, output / job.output, options)
        except Exception as exc:  # codecs raise untyped errors; the file is unusable either way
            outcome.errors.append(Skipped(job.name, _reason(exc)))
        else:
            outcome.written.append(job.output)
    return outcome


def _reason(exc: Exception) -> str:
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot write: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def convert_file(path: Path, target: Path, options: PreprocessOptions) -> None:
    """Decode `path`, apply the options, and write `target` (never over an existing file)."""
    if target.suffix.lower() in (".wav", ".flac"):
        data = _audio(path, target.suffix.lower(), options)
    else:
        data = _image(path, target.suffix.lower(), options)
    write_new(target, data)


def write_new(target: Path, data: bytes) -> None:
    """Write `data` whole under a temporary name, then link it to `target`: a file of that name
    is never replaced (FileExistsError), and `target` never holds a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}{_PART}")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
        os.link(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _image(path: Path, extension: str, options: PreprocessOptions) -> bytes:
    fmt = _IMAGE_BY_EXTENSION.get(extension)
    if fmt is None:
        raise InputError(f"no image format writes {extension!r}")
    decoded = decode_image(path)
    icc, dpi = _header_extras(path)
    rgb = cv2.cvtColor(decoded.pixels, cv2.COLOR_BGR2RGB)  # 30x faster than a NumPy copy
    if icc is not None:
        rgb = to_srgb(rgb, icc)
    grey = options.mode == "grey" or fmt == "WSQ"
    if options.mode is None and decoded.source_mode in GREY_MODES:
        grey = True
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if grey else rgb
    factor = _factor(pixels.shape[1], options)
    if fmt == "WSQ":
        ppi = choose(None, header_ppi(path.read_bytes())).ppi * factor
        return encode_wsq(
            resize(pixels, factor), ppi=ppi, bitrate=options.bitrate or DEFAULT_BITRATE
        )
    scaled_dpi = (dpi[0] * factor, dpi[1] * factor) if dpi else None
    return encode_image(resize(pixels, factor), fmt, options.quality, scaled_dpi)


def _header_extras(path: Path) -> tuple[bytes | None, tuple[float, float] | None]:
    """The embedded ICC profile and the resolution (dpi), from the header alone."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as header:
                icc = header.info.get("icc_profile") or None
                dpi = header.info.get("dpi")
                mode = header.mode
    except Exception:  # decode_image accepted the file; a header Pillow cannot read has neither
        return None, None
    try:
        resolution = (float(dpi[0]), float(dpi[1])) if dpi and min(dpi) > 0 else None
    except (TypeError, ValueError, IndexError):
        resolution = None
    return (None if mode in GREY_MODES else icc), resolution


def to_srgb(rgb: np.ndarray, icc: bytes) -> np.ndarray:
    """RGB pixels in the colour space of profile `icc`, converted to sRGB (perceptual intent);
    InputError when LittleCMS cannot read the profile or convert from it."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != "RGB":
            return rgb  # a CMYK or grey profile: OpenCV already gave RGB values
        converted = ImageCms.profileToProfile(
            Image.fromarray(rgb), profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        raise InputError(f"the embedded ICC profile cannot be converted to sRGB: {exc}") from None
    return np.asarray(converted)


def _factor(width: int, options: PreprocessOptions) -> float:
    if options.resize_width is not None:
        return options.resize_width / width
    return options.scale if options.scale is not None else 1.0


def resize(pixels: np.ndarray, factor: float) -> np.ndarray:
    """`pixels` scaled by `factor` (at least 1 x 1): area averaging when shrinking, bicubic
    when enlarging."""
    if factor == 1.0:
        return pixels
    height = max(1, round(pixels.shape[0] * factor))
    width = max(1, round(pixels.shape[1] * factor))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(pixels, (width, height), interpolation=interpolation)


def encode_image(
    pixels: np.ndarray,
    fmt: str,
    quality: int | None,
    dpi: tuple[float, float] | None,
) -> bytes:
    """`pixels` (grey or RGB, 8-bit) encoded as Pillow's `fmt`."""
    image = Image.fromarray(pixels)
    extra: dict[str, Any] = {"dpi": dpi} if dpi and fmt in ("PNG", "JPEG", "TIFF") else {}
    if fmt == "JPEG":
        extra["quality"] = quality or DEFAULT_QUALITY
    if fmt == "WEBP":  # lossless unless a quality is asked for
        extra.update({"quality": quality} if quality else {"lossless": True})
    if fmt == "TIFF":
        extra["compression"] = "tiff_lzw"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **extra)
    return buffer.getvalue()


def _audio(path: Path, extension: str, options: PreprocessOptions) -> bytes:
    decoded = decode_audio(path, max_duration_s=SpeechOptions().max_duration_s)
    samples, rate = decoded.samples, decoded.sample_rate
    if options.channels == 1 and samples.shape[1] > 1:
        samples = samples.mean(axis=1, keepdims=True, dtype=np.float32)
    if options.sample_rate is not None and options.sample_rate != rate:
        samples = soxr.resample(samples, rate, options.sample_rate, quality="HQ")
        rate = options.sample_rate
    fmt = "WAV" if extension == ".wav" else "FLAC"
    subtype = decoded.subtype
    if subtype is None or not soundfile.check_format(fmt, subtype):
        subtype = "PCM_16"
    if not subtype.startswith(("FLOAT", "DOUBLE")):
        samples = np.clip(samples, -1.0, 1.0)  # resampling can overshoot full scale
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()
