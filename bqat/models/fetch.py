"""`bqat models pull`: download the registered files that have an upstream URL, by sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bqat.exceptions import ModelError
from bqat.models.registry import ModelSpec, verify
from bqat.settings import get_settings

_TIMEOUT_S = 30


def pull(spec: ModelSpec) -> Path:
    """Make `spec`'s file available and verified, downloading it into the cache when needed.

    A file already present and valid is kept. The download lands in a temporary file that is
    renamed into place only when its sha256 matches, so a failed pull never leaves a bad file.
    """
    found = verify(spec)
    if found.status == "ok" and found.path is not None:
        return found.path
    if not spec.upstream_url:
        raise ModelError(f"model {spec.name} has no download URL; {spec.how_to_obtain}")
    target_dir = get_settings().model_cache_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=f".{spec.file}.")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(spec.upstream_url, timeout=_TIMEOUT_S) as response,
        ):
            for chunk in iter(lambda: response.read(1 << 16), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"model {spec.name}: download from {spec.upstream_url} has sha256 "
                f"{digest.hexdigest()}, expected {spec.sha256}; the file was discarded"
            )
        target = target_dir / spec.file
        os.replace(tmp_name, target)
        return target
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"model {spec.name}: cannot download {spec.upstream_url} ({reason}); "
            f"offline? copy {spec.file} into BQAT_MODEL_DIR instead"
        ) from exc
    finally:
        Path(tmp_name).unlink(missing_ok=True)
