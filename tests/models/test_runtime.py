"""ONNX Runtime sessions: one per model per process, CPU here, clear errors otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from bqat import ConfigError, ModelError
from bqat.models import runtime


@pytest.fixture(autouse=True)
def fresh_sessions(monkeypatch):
    monkeypatch.setattr(runtime, "_sessions", {})


def test_a_session_runs_the_detector_on_the_cpu(shared):
    session = runtime.session("yunet_640")
    outputs = session.run(None, {"input": np.zeros((1, 3, 640, 640), np.float32)})
    names = [o.name for o in session.get_outputs()]
    assert {"cls_8", "obj_32", "bbox_16", "kps_8"} <= set(names)
    assert outputs[names.index("cls_8")].shape == (1, 80 * 80, 1)
    assert runtime.active_providers() == ["CPUExecutionProvider"]


def test_sessions_are_created_once_per_process(shared):
    assert runtime.session("face_mesh") is runtime.session("face_mesh")


def test_the_thread_count_comes_from_the_settings(shared, set_env):
    set_env(BQAT_THREADS="1")
    session = runtime.session("iris_landmark")
    assert session.get_session_options().intra_op_num_threads == 1


def test_cpu_only_runtimes_offer_the_cpu_provider():
    assert runtime.providers() == ["CPUExecutionProvider"]


def test_forcing_cuda_without_a_gpu_build_is_a_config_error(set_env):
    set_env(BQAT_EXECUTION_PROVIDER="cuda")
    with pytest.raises(ConfigError, match="bqat\\[gpu\\]"):
        runtime.providers()


def test_auto_prefers_cuda_when_the_runtime_offers_it(monkeypatch):
    ort = runtime.onnxruntime_module()
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    assert runtime.providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_both_onnxruntime_flavours_installed_is_refused(monkeypatch):
    monkeypatch.setattr(runtime, "_installed", lambda name: True)
    with pytest.raises(ConfigError, match="both installed"):
        runtime.onnxruntime_module()


def test_the_providers_of_each_loaded_session_are_reported(shared):
    assert runtime.loaded_providers() == {}
    assert runtime.active_providers() == []
    runtime.session("yunet_s_dynamic")
    assert runtime.loaded_providers() == {"yunet_s_dynamic": ["CPUExecutionProvider"]}


def test_active_providers_are_ranked_best_first(monkeypatch):
    class Fake:
        def __init__(self, providers):
            self.providers = providers

        def get_providers(self):
            return self.providers

    cpu, cuda = "CPUExecutionProvider", "CUDAExecutionProvider"
    monkeypatch.setattr(runtime, "_sessions", {"a": Fake([cpu]), "b": Fake([cuda, cpu])})
    ort = runtime.onnxruntime_module()
    monkeypatch.setattr(ort, "get_available_providers", lambda: [cuda, cpu])
    assert runtime.active_providers() == [cuda, cpu]
    assert runtime.loaded_providers() == {"a": [cpu], "b": [cuda, cpu]}


def test_a_file_that_is_not_an_onnx_model_gets_no_session(shared):
    with pytest.raises(ModelError, match="not an ONNX model"):
        runtime.session("nfiq2_forest")
