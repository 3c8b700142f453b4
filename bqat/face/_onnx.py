"""Running a registered model by name, with ONNX Runtime's failures turned into `ModelError`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bqat.exceptions import ModelError
from bqat.models.runtime import session


def run_model(name: str, feeds: dict[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
    """The named `outputs` of model `name` for `feeds`, in the order asked for.

    Outputs are asked for by name, never by position, so a re-exported graph whose outputs come
    in another order still decodes correctly, and one that lacks an output fails here, loudly.
    ONNX Runtime raises its own untyped exceptions (wrong input shape, missing output, corrupt
    graph); they become `ModelError` so a scan records them as a model problem.
    """
    model = session(name)
    try:
        return model.run(list(outputs), feeds)
    except Exception as exc:
        raise ModelError(f"model {name}: inference failed: {exc}") from exc
