"""Running a registered model: ONNX Runtime's own failures surface as `InferenceError`."""

from __future__ import annotations

import numpy as np
import pytest

from bqat import InferenceError
from bqat.models.inference import run_model


def test_outputs_come_back_in_the_order_asked_for():
    feeds = {"input_1": np.zeros((1, 64, 64, 3), np.float32)}
    iris, contour = run_model(
        "iris_landmark", feeds, ("output_iris", "output_eyes_contours_and_brows")
    )
    assert iris.shape == (1, 15)
    assert contour.shape == (1, 213)


def test_an_input_of_the_wrong_shape_is_a_model_error():
    with pytest.raises(InferenceError, match="model face_mesh: inference failed"):
        run_model("face_mesh", {"input_1": np.zeros((1, 10, 10, 3), np.float32)}, ["conv2d_21"])


def test_an_unknown_output_name_is_a_model_error():
    feeds = {"input_1": np.zeros((1, 192, 192, 3), np.float32)}
    with pytest.raises(InferenceError, match="model face_mesh: inference failed"):
        run_model("face_mesh", feeds, ["no_such_output"])
