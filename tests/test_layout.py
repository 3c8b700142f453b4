"""The package boundaries of the design: installed packages, and a core free of Prefect/Litestar."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_the_library_the_native_core_the_flows_and_the_api_import():
    done = run_python("import bqat, bqat._native, flows, api")
    assert done.returncode == 0, done.stderr


def test_core_modules_import_neither_prefect_nor_litestar():
    done = run_python(
        "import importlib, pkgutil, sys, bqat\n"
        "for m in pkgutil.walk_packages(bqat.__path__, 'bqat.'):\n"
        "    importlib.import_module(m.name)\n"
        "heavy = sorted(n for n in ('prefect', 'litestar', 'evidently') if n in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_native_errors_are_caught_as_bqat_errors():
    import numpy as np
    import pytest

    from bqat import BqatError, _native

    with pytest.raises(BqatError, match="uint8"):
        _native.grey_stats(np.zeros((4, 4), np.uint16))


def test_only_the_runner_module_of_the_core_imports_the_flows():
    import ast
    from pathlib import Path

    import bqat

    importers = set()
    for path in Path(bqat.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n == "flows" or n.startswith(("flows.", "api.")) or n == "api" for n in names):
                importers.add(path.name)
    assert importers == {"runner.py"}
