"""Quality profiles: named, documented threshold sets over a modality's declared measures.

An engine declares its profiles next to its measures (`Engine.profiles`, the first is the
modality's default), so a new modality brings its own without an edit here. Each threshold
names a declared column, the values that pass, and where that value comes from (a clause, a
peer tool's default, or our own choice, said as such). Verdicts are never stored: they are
computed from the stored rows whenever they are read (bqat.verdicts), so a changed profile
cannot leave a stale verdict behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bqat.exceptions import ConfigError


@dataclass(frozen=True)
class Threshold:
    """One component of a profile: a declared column and the values that pass.

    Numbers pass within [minimum, maximum] (bounds inclusive, None where open); booleans and
    labels pass when they are one of `allowed`. A null value fails nothing: it makes the
    verdict unknown, naming this component.
    """

    measure: str
    source: str
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[bool | str, ...] | None = None

    def describe(self) -> str:
        """The passing values in words: `≥ 90`, `-5 to 5`, `≤ 0.001`, `one of false`."""
        if self.allowed is not None:
            return "one of " + ", ".join(_word(v) for v in self.allowed)
        if self.minimum is not None and self.maximum is not None:
            if self.minimum == self.maximum:
                return f"= {self.minimum:g}"
            return f"{self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"≥ {self.minimum:g}"
        return f"≤ {self.maximum:g}"

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "allowed": list(self.allowed) if self.allowed is not None else None,
            "passes": self.describe(),
            "source": self.source,
        }


@dataclass(frozen=True)
class Profile:
    """A named threshold set of one modality.

    `score` is the measure the report ranks samples by (worst first); None where the modality
    has no overall quality score. `presence` is the check that a sample shows this modality
    at all (a face found, an iris located): when most samples fail it, the dataset probably
    holds another modality, and the report and the scan's task say so.
    """

    name: str
    modality: str
    title: str
    description: str
    thresholds: tuple[Threshold, ...]
    score: str | None = None
    presence: Threshold | None = None

    @property
    def components(self) -> list[str]:
        return [t.measure for t in self.thresholds]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modality": self.modality,
            "title": self.title,
            "description": self.description,
            "score": self.score,
            "presence": self.presence.to_json() if self.presence else None,
            "thresholds": [t.to_json() for t in self.thresholds],
        }


def quality_profiles(modality: str) -> list[Profile]:
    """The declared profiles of `modality`, the default first, each checked against its
    measures; `ConfigError` for an unknown modality or a profile that names no declared one."""
    from bqat.engines import get_engine

    declared = list(get_engine(modality).profiles)
    for profile in declared:
        check_profile(profile)
    return declared


def get_profile(modality: str, name: str | None = None) -> Profile:
    """The profile `name` of `modality` (its default when None); `ConfigError` naming the
    available ones otherwise."""
    declared = quality_profiles(modality)
    if not declared:
        raise ConfigError(f"no quality profile is declared for {modality}")
    if name is None:
        return declared[0]
    for profile in declared:
        if profile.name == name:
            return profile
    names = ", ".join(p.name for p in declared)
    raise ConfigError(f"unknown quality profile {name!r} for {modality}; available: {names}")


def check_profile(profile: Profile) -> None:
    """`ConfigError` unless every threshold names a declared column of the profile's modality
    with a compatible type, values inside its declared range, and each column once."""
    from bqat.measures import specification

    spec = specification(profile.modality)
    seen: set[str] = set()
    checks = [*profile.thresholds, *([profile.presence] if profile.presence else [])]
    for index, threshold in enumerate(checks):
        where = f"profile {profile.modality}/{profile.name}, {threshold.measure}"
        entry = spec.get(threshold.measure)
        if entry is None:
            raise ConfigError(f"{where}: not a declared {profile.modality} column")
        if index < len(profile.thresholds):
            if threshold.measure in seen:
                raise ConfigError(f"{where}: named twice")
            seen.add(threshold.measure)
        _check_values(threshold, entry, where)
    if profile.score is not None:
        entry = spec.get(profile.score)
        if entry is None or entry["type"] not in ("integer", "number"):
            raise ConfigError(f"profile {profile.name}: score {profile.score} is not a number")
        if entry["direction"] not in ("higher_is_better", "lower_is_better"):
            raise ConfigError(f"profile {profile.name}: score {profile.score} has no direction")


def _check_values(threshold: Threshold, entry: dict[str, Any], where: str) -> None:
    if not threshold.source.strip():
        raise ConfigError(f"{where}: say where the threshold comes from")
    if threshold.allowed is not None:
        if threshold.minimum is not None or threshold.maximum is not None:
            raise ConfigError(f"{where}: allowed values and bounds are exclusive")
        kind = bool if entry["type"] == "boolean" else str
        if entry["type"] not in ("boolean", "string") or not all(
            type(v) is kind for v in threshold.allowed
        ):
            raise ConfigError(f"{where}: allowed values must be {entry['type']}s")
        values = entry.get("values")
        if values is not None and not set(threshold.allowed) <= set(values):
            raise ConfigError(f"{where}: allowed values outside {values}")
        return
    if entry["type"] not in ("integer", "number"):
        raise ConfigError(f"{where}: bounds need a numeric column, not {entry['type']}")
    low, high = threshold.minimum, threshold.maximum
    if low is None and high is None:
        raise ConfigError(f"{where}: give a minimum, a maximum or allowed values")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{where}: minimum {low:g} above maximum {high:g}")
    declared_low, declared_high = entry.get("range") or (None, None)
    for bound in (b for b in (low, high) if b is not None):
        if (declared_low is not None and bound < declared_low) or (
            declared_high is not None and bound > declared_high
        ):
            raise ConfigError(f"{where}: {bound:g} lies outside the declared range")


def _word(value: bool | str) -> str:
    return str(value).lower() if isinstance(value, bool) else value
