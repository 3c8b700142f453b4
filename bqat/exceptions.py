"""One exception tree for the whole project.

Every failure a user can cause or meet is a `BqatError`; callers catch the branch they can act on
(the API maps each branch to one HTTP status, the scan flow turns `InputError` into an error row).
"""

from __future__ import annotations


class BqatError(Exception):
    """Root of every error bqat raises on purpose."""


class InputError(BqatError, ValueError):
    """A sample cannot be used: undecodable, empty, truncated, too large, wrong kind of content."""


class ConfigError(BqatError, ValueError):
    """A setting, option or argument is invalid (unknown key, bad range, unavailable modality)."""


class ModelError(BqatError, RuntimeError):
    """A model file is missing, corrupt (sha256 mismatch) or cannot be loaded or fetched."""


class InferenceError(BqatError, RuntimeError):
    """A loaded model failed on one sample (ONNX Runtime refused its input or failed inside).

    Unlike `ModelError` (the model itself is unusable, so every sample would fail), this is about
    one sample: a scan records it as that file's error and goes on.
    """


class MeasureError(BqatError, ValueError):
    """One measure cannot be computed on this sample; its reason goes into `measure_errors`."""


class NativeError(BqatError, ValueError):
    """A native kernel refused its arguments (dtype, shape, empty input) or failed inside."""


class PathNameError(BqatError, ValueError):
    """A name that must be relative to a root folder is absolute, empty or contains '..'."""


class AccessError(BqatError, PermissionError):
    """A path resolves outside the folders it must stay in (the data roots, the uploads)."""


class NotFoundError(BqatError, LookupError):
    """A dataset, task or file that was asked for does not exist."""


class SampleTimeout(BqatError, TimeoutError):
    """Assessing one sample took longer than the per-file limit (BQAT_FILE_TIMEOUT_S)."""


class ServiceUnavailable(BqatError, ConnectionError):
    """A service a command needs besides the store (the Prefect server) did not answer."""


class DatasetInUse(BqatError, RuntimeError):
    """A task that reads or writes the dataset is queued or running (HTTP 409)."""

    @classmethod
    def of(cls, dataset_id: str, task: str, cancel: str = "cancel it") -> DatasetInUse:
        """The refusal to delete `dataset_id` while `task` uses it; `cancel` says how to stop it."""
        return cls(
            f"dataset {dataset_id} is in use by task {task}, queued or running; "
            f"delete it when that task ends, or {cancel}"
        )
