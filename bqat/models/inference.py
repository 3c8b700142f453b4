"""Running a registered model by name, with ONNX Runtime's failures on a sample typed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bqat.exceptions import InferenceError
from bqat.models.runtime import session


def run_model(name: str, feeds: dict[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
    """The named `outputs` of model `name` for `feeds`, in the order asked for.

    Outputs are asked for by name, never by position, so a re-exported graph whose outputs come
    in another order still decodes correctly, and one that lacks an output fails here, loudly.
    A model that cannot be loaded raises `ModelError` (every sample would fail); ONNX Runtime's
    own untyped failures on these feeds become `InferenceError`, which costs one sample only.
    """
    model = session(name)
    try:
        return model.run(list(outputs), feeds)
    except Exception as exc:
        raise InferenceError(f"model {name}: inference failed: {exc}") from exc
