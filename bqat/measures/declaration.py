"""A measure is a small declared unit: what it is, its unit and range, and how it maps to 0-100.

Declarations are the single source of the record schema: the DuckDB columns, `/specification`,
the API models and the report's column descriptions are all generated from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

JsonType = Literal["integer", "number", "boolean", "string"]
Direction = Literal["higher_is_better", "lower_is_better", "closer_to_target_is_better", "none"]

SCALAR_SUFFIX = "_scalar"


@dataclass(frozen=True)
class Sigmoid:
    """OFIQ's mapping of a raw value to a 0-100 quality component (ISO/IEC 29794-5, Annex).

    component = round(h * (a + s * sigmoid((x' - x0) / w))), clipped to [0, 100], where
    x' = |x - centre| when `centre` is set (a value best at `centre`), else x.
    """

    x0: float
    w: float
    h: float = 100.0
    a: float = 0.0
    s: float = 1.0
    centre: float | None = None

    def __call__(self, raw: float | None) -> int | None:
        if raw is None or not math.isfinite(raw):
            return None
        x = abs(raw - self.centre) if self.centre is not None else raw
        z = (x - self.x0) / self.w
        sigmoid = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        return int(min(100.0, max(0.0, round(self.h * (self.a + self.s * sigmoid)))))

    def describe(self) -> str:
        x = f"|x - {self.centre:g}|" if self.centre is not None else "x"
        return (
            f"round({self.h:g} * ({self.a:g} + {self.s:g} * sigmoid(({x} - {self.x0:g}) / "
            f"{self.w:g}))), clipped to 0..100"
        )


@dataclass(frozen=True)
class Linear:
    """A raw value already on a 0-100-like scale: component = round(offset + scale * x), clipped."""

    scale: float
    offset: float = 0.0

    def __call__(self, raw: float | None) -> int | None:
        if raw is None or not math.isfinite(raw):
            return None
        return int(min(100.0, max(0.0, round(self.offset + self.scale * raw))))

    def describe(self) -> str:
        return f"round({self.offset:g} + {self.scale:g} * x), clipped to 0..100"


Component = Sigmoid | Linear


@dataclass(frozen=True)
class Measure:
    """One field of a modality's record.

    `component` is the default mapping of the raw value to a 0-100 quality component; a measure
    with one also yields the column `<name>_scalar`. `range` is (low, high), None where open.
    `compute` reads the modality's frozen per-sample context and returns the raw value, or None
    when the sample does not allow it (no face, for instance). `example` is a typical value
    (for the OpenAPI schema), where the range alone does not suggest one.
    """

    name: str
    modality: str
    type: JsonType
    description: str
    unit: str | None = None
    range: tuple[float | None, float | None] | None = None
    direction: Direction = "none"
    clause: str | None = None
    component: Component | None = None
    values: tuple[str, ...] | None = None
    example: object = None
    compute: Callable[[Any], object] | None = field(default=None, compare=False, repr=False)

    @property
    def scalar_name(self) -> str | None:
        return self.name + SCALAR_SUFFIX if self.component is not None else None

    def columns(self) -> dict[str, dict[str, object]]:
        """This measure's columns (itself, then its 0-100 component) as specification entries."""
        entry: dict[str, object] = {
            "modality": self.modality,
            "type": self.type,
            "unit": self.unit,
            "range": list(self.range) if self.range is not None else None,
            "direction": self.direction,
            "description": self.description,
            "clause": self.clause,
        }
        if self.values is not None:
            entry["values"] = list(self.values)
        if self.example is not None:
            entry["example"] = self.example
        if self.component is None:
            return {self.name: entry}
        entry["component"] = self.component.describe()
        scalar = {
            "modality": self.modality,
            "type": "integer",
            "unit": "score",
            "range": [0, 100],
            "direction": "higher_is_better",
            "description": f"Quality component of {self.name}, 0-100: "
            + self.component.describe()
            + ".",
            "clause": self.clause,
        }
        if self.example is not None:
            scalar["example"] = self.component(self.example)  # type: ignore[arg-type]
        return {self.name: entry, self.scalar_name: scalar}
