"""Mutation run of the face measures: do the face tests notice when a rule is wrong?

Each declared face measure's rule is replaced in turn by
- a constant: the measure's own value on a sample face (268625316_1.jpg), so the type and the
  magnitude are plausible, and
- its neighbour's rule: the next measure's in record order (the previous one for the last),
then `pytest -x` runs every test file of tests/engines/face with that one mutant, in this
process (the synthetic rule tests first, so most mutants stop within seconds). A mutant is
caught when the tests fail. Prints one line per mutant and the count; exit code 1 when any
mutant survives.

Usage: .venv/bin/python scripts/mutate_face_measures.py [--only NAME ...]
       [--kind constant|neighbour]
(takes 10-20 minutes on 2 cores; not part of `make test`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "samples" / "face" / "268625316_1.jpg"
# The fast, synthetic rule tests first: with -x, most mutants stop there.
FOLDER = ROOT / "tests" / "engines" / "face"
TESTS = sorted(
    (str(path.relative_to(ROOT)) for path in FOLDER.glob("test_*.py")),
    key=lambda path: (not path.endswith("test_face_rules.py"), path),
)


class _FirstFailure:
    """Pytest plugin that remembers the first failing test."""

    def __init__(self) -> None:
        self.first = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and not self.first:
            self.first = report.nodeid


def run_with_mutant(name: str, kind: str, constant: object) -> tuple[bool, str]:
    """Run the face tests with measure `name`'s rule replaced; (caught, first failing test)."""
    from bqat.engines.face.measures import FACE_MEASURES

    names = [measure.name for measure in FACE_MEASURES]
    index = names.index(name)
    target = FACE_MEASURES[index]
    original = target.compute
    if kind == "constant":

        def rule(ctx: object, value: object = constant) -> object:
            return value

    else:
        rule = FACE_MEASURES[index + 1 if index + 1 < len(names) else index - 1].compute
    # Measures are frozen declarations, shared by FACE_MEASURES and ENGINE.measures.
    object.__setattr__(target, "compute", rule)
    tracker = _FirstFailure()
    try:
        options = ["-x", "-q", "--no-header", "-p", "no:randomly", "-p", "no:cacheprovider"]
        with contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main([*options, *TESTS], plugins=[tracker])
    finally:
        object.__setattr__(target, "compute", original)
    return code == pytest.ExitCode.TESTS_FAILED, tracker.first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="measure names to mutate")
    parser.add_argument("--kind", choices=("constant", "neighbour"), action="append")
    args = parser.parse_args()
    import bqat
    from bqat.engines.face.measures import FACE_MEASURES

    record = bqat.assess(SAMPLE, "face")
    names = args.only or [measure.name for measure in FACE_MEASURES]
    kinds = args.kind or ["constant", "neighbour"]
    survivors, total, start = [], 0, time.monotonic()
    for name in names:
        for kind in kinds:
            total += 1
            caught, first = run_with_mutant(name, kind, record[name])
            if not caught:
                survivors.append(f"{name} ({kind})")
            print(
                f"{'caught  ' if caught else 'SURVIVED'} {name:40s} {kind:9s} {first}", flush=True
            )
    elapsed = time.monotonic() - start
    print(f"{total - len(survivors)} of {total} mutants caught in {elapsed:.0f} s")
    for survivor in survivors:
        print("survived:", survivor)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
