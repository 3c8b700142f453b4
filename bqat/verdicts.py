"""Verdicts of stored rows against a quality profile, computed when read, never stored.

A row passes when every threshold of the profile passes; it fails when one fails (those are
its failed components); otherwise, when a needed value is null (no face, a measure that could
not be computed, a column stored before the measure existed), its verdict is unknown and its
unknown components name the missing values. Whole columns are compared at once (NumPy over
Arrow), so a million rows take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bqat.exceptions import ConfigError
from bqat.quality_profiles import Profile, Threshold, get_profile, quality_profiles
from bqat.store import Filter, Store

VERDICTS = ("pass", "fail", "unknown")
VERDICT_COLUMNS = ("verdict", "failed_components", "unknown_components")
WRONG_MODALITY_SHARE = 0.5  # more than this share of rows failing the presence check


@dataclass(frozen=True)
class Judgement:
    """Per row of a table: whether each threshold failed, or could not be checked (null)."""

    profile: Profile
    failed: np.ndarray  # rows x thresholds, bool
    unknown: np.ndarray  # rows x thresholds, bool

    @property
    def verdicts(self) -> np.ndarray:
        """'fail' where a threshold failed, else 'unknown' where one was null, else 'pass'."""
        return np.where(
            self.failed.any(axis=1),
            "fail",
            np.where(self.unknown.any(axis=1), "unknown", "pass"),
        )

    def counts(self) -> dict[str, int]:
        """Rows per verdict, every verdict named."""
        found = dict(zip(*np.unique(self.verdicts, return_counts=True), strict=True))
        return {v: int(found.get(v, 0)) for v in VERDICTS}

    def component_counts(self) -> dict[str, tuple[int, int]]:
        """Per component: (rows failing it, rows where it is null)."""
        failing, missing = self.failed.sum(axis=0), self.unknown.sum(axis=0)
        return {
            name: (int(f), int(m))
            for name, f, m in zip(self.profile.components, failing, missing, strict=True)
        }

    def columns(self) -> dict[str, pa.Array]:
        """`verdict`, `failed_components` and `unknown_components` as Arrow arrays."""
        names = np.array(self.profile.components, dtype=object)
        return {
            "verdict": pa.array(self.verdicts, pa.string()),
            "failed_components": _lists(self.failed, names),
            "unknown_components": _lists(self.unknown, names),
        }


def judge(table: pa.Table, profile: Profile) -> Judgement:
    """Each row of `table` against each threshold of `profile` (a missing column is null)."""
    failed = np.zeros((table.num_rows, len(profile.thresholds)), dtype=bool)
    unknown = np.zeros_like(failed)
    for index, threshold in enumerate(profile.thresholds):
        known, passing = _check(table, threshold)
        failed[:, index] = known & ~passing
        unknown[:, index] = ~known
    return Judgement(profile, failed, unknown)


def with_verdicts(table: pa.Table, profile: Profile) -> pa.Table:
    """`table` with the verdict columns appended."""
    for name, values in judge(table, profile).columns().items():
        table = table.append_column(name, values)
    return table


def verdict_rows(
    store: Store,
    dataset_id: str,
    *,
    profile: str | None = None,
    verdict: str | None = None,
    order_by: Sequence[str] = (),
    filters: Sequence[Filter] = (),
    as_of: int | str | None = None,
) -> tuple[pa.Table, Profile]:
    """Every stored row (ordered and filtered as `Store.rows`) with its verdict under the
    profile `profile` (the modality's default when None), only those with `verdict` if given."""
    if verdict is not None and verdict not in VERDICTS:
        raise ConfigError(f"unknown verdict {verdict!r}; use one of {', '.join(VERDICTS)}")
    chosen = get_profile(store.dataset(dataset_id, as_of=as_of).modality, profile)
    table, _ = store.rows(dataset_id, order_by=order_by, filters=filters, as_of=as_of)
    table = with_verdicts(table, chosen)
    if verdict is not None:
        table = table.filter(pc.equal(table.column("verdict"), verdict))
    return table, chosen


def joined_components(table: pa.Table, separator: str = ";") -> pa.Table:
    """The list columns of `with_verdicts` as text (`a;b`), for CSV."""
    for name in VERDICT_COLUMNS[1:]:
        if name in table.column_names:
            index = table.column_names.index(name)
            table = table.set_column(index, name, pc.binary_join(table.column(name), separator))
    return table


def wrong_modality_share(table: pa.Table, profile: Profile) -> float | None:
    """The share of rows failing the profile's presence check (null counts as failing); None
    without rows or without a presence check."""
    if profile.presence is None or table.num_rows == 0:
        return None
    known, passing = _check(table, profile.presence)
    return float(np.count_nonzero(~(known & passing))) / table.num_rows


def modality_warning(dataset_id: str, store: Store | None = None) -> str | None:
    """A sentence when most stored rows do not look like the dataset's modality (no face in
    most 'face' samples: fingerprints scanned as faces, say); None otherwise.

    For the report's banner and the scan task's warning; None too for a modality without a
    quality profile or presence check. An unknown dataset raises as `Store.dataset` does.
    """
    store = store or Store()
    info = store.dataset(dataset_id)
    declared = quality_profiles(info.modality)
    presence = declared[0].presence if declared else None
    if presence is None:
        return None
    profile = declared[0]
    stored = stored_columns(store, dataset_id, [presence.measure])
    share = wrong_modality_share(stored, profile)
    if share is None or share <= WRONG_MODALITY_SHARE:
        return None
    return (
        f"{share:.0%} of the {stored.num_rows} assessed samples fail the {info.modality} "
        f"presence check ({presence.measure} {presence.describe()}): are these "
        f"{info.modality} samples? Another modality scanned as {info.modality} looks like this."
    )


def stored_columns(
    store: Store, dataset_id: str, columns: Sequence[str], *, as_of: int | str | None = None
) -> pa.Table:
    """The dataset's latest rows, those of `columns` that are stored (a measure declared after
    the rows were stored has no column yet; the verdicts read it as null)."""
    return store.table(dataset_id, list(dict.fromkeys(columns)), as_of=as_of, stored_only=True)


def _check(table: pa.Table, threshold: Threshold) -> tuple[np.ndarray, np.ndarray]:
    """(value present, value passes) per row; a column the table lacks is all null."""
    rows = table.num_rows
    if threshold.measure not in table.column_names:
        return np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool)
    column = table.column(threshold.measure)
    if threshold.allowed is not None:
        known = ~_nulls(column)
        allowed = pa.array(list(threshold.allowed), type=column.type)
        passing = pc.fill_null(pc.is_in(column, value_set=allowed), False)
        return known, passing.to_numpy(zero_copy_only=False).astype(bool)
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    known = np.isfinite(values)
    passing = known.copy()
    with np.errstate(invalid="ignore"):
        if threshold.minimum is not None:
            passing &= values >= threshold.minimum
        if threshold.maximum is not None:
            passing &= values <= threshold.maximum
    return known, passing


def _nulls(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_null(column).to_numpy(zero_copy_only=False).astype(bool)


def _lists(mask: np.ndarray, names: np.ndarray) -> pa.Array:
    """Per row, the names whose column is set in `mask`, as one list<string> array."""
    rows, columns = np.nonzero(mask)  # row-major: each row's names in profile order
    offsets = np.zeros(mask.shape[0] + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names[columns], pa.string()))
