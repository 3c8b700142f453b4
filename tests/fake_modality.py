"""A tiny modality defined outside bqat, to prove that adding one needs nothing but its package.

`tally` samples are text files (`.tally`) of whitespace-separated numbers from 0 to 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bqat import InputError, MeasureError
from bqat.engines import Engine
from bqat.measures import Linear, Measure
from bqat.measures.common import file_measure

MODALITY = "tally"


class TallyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high: float = Field(50.0, ge=0, le=100, description="mean above which the label is high")


@dataclass(frozen=True)
class TallyContext:
    file: str | None
    numbers: list[float]
    options: TallyOptions


def tally_context(sample: Any, file: str | None, options: TallyOptions) -> TallyContext:
    text = Path(sample).read_bytes() if isinstance(sample, str | Path) else bytes(sample)
    try:
        numbers = [float(word) for word in text.split()]
    except ValueError:
        raise InputError("not a tally: a word is not a number") from None
    return TallyContext(file=file, numbers=numbers, options=options)


def _mean(ctx: TallyContext) -> float | None:
    return sum(ctx.numbers) / len(ctx.numbers) if ctx.numbers else None


def _spread(ctx: TallyContext) -> float:
    if len(ctx.numbers) < 2:
        raise MeasureError("the spread needs at least two numbers")
    return max(ctx.numbers) - min(ctx.numbers)


def _label(ctx: TallyContext) -> str | None:
    mean = _mean(ctx)
    return None if mean is None else ("high" if mean > ctx.options.high else "low")


MEASURES = (
    file_measure(MODALITY),
    Measure(
        name="count",
        modality=MODALITY,
        type="integer",
        description="How many numbers the tally holds.",
        unit="numbers",
        range=(0, None),
        direction="higher_is_better",
        compute=lambda c: len(c.numbers),
    ),
    Measure(
        name="tally_mean",
        modality=MODALITY,
        type="number",
        description="Mean of the numbers; null for an empty tally.",
        unit="points",
        range=(0, 100),
        direction="higher_is_better",
        component=Linear(scale=1),
        compute=_mean,
    ),
    Measure(
        name="spread",
        modality=MODALITY,
        type="number",
        description="Largest minus smallest number.",
        unit="points",
        range=(0, 100),
        direction="lower_is_better",
        compute=_spread,
    ),
    Measure(
        name="label",
        modality=MODALITY,
        type="string",
        description="high when the mean is above the `high` option, else low.",
        values=("low", "high"),
        compute=_label,
    ),
)

ENGINE = Engine(
    modality=MODALITY,
    measures=MEASURES,
    options=TallyOptions,
    models=(),
    extensions=frozenset({".tally"}),
    context=tally_context,
)
