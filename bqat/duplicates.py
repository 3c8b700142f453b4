"""Exact and near-duplicate samples of a dataset.

Exact duplicates are files with the same content (sha256). Near duplicates are images whose
64-bit perceptual hashes (`phash`: the DCT of the 32 x 32 grey image, see `bqat._native.phash`)
differ in at most `max_distance` bits but whose files are not all identical: a re-encoded,
resized or lightly edited copy. Near groups are the connected components of that relation, so a
group's `distance` (the largest difference between two of its members) may exceed `max_distance`
when copies chain. Pairs are found by the native multi-index search, never by comparing all pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from bqat import _native
from bqat.exceptions import ConfigError
from bqat.measures import specification
from bqat.phash import PHASH_COLUMN
from bqat.store import Store

# Re-encoded, resized, brightened or slightly rotated copies of the shared samples moved <= 4
# bits, 2-5 % crops 4-18; samples of different subjects were >= 18 (fingerprints), >= 26
# (faces) apart. Past 12 the multi-index search compares nearly all pairs.
DEFAULT_MAX_DISTANCE = 6
MAX_DISTANCE_LIMIT = 12


@dataclass(frozen=True)
class DuplicateGroup:
    kind: Literal["exact", "near"]
    files: list[str]
    distance: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_max_distance(max_distance: int) -> int:
    if isinstance(max_distance, bool) or not isinstance(max_distance, int):
        raise ConfigError("max_distance must be an integer")
    if not 0 <= max_distance <= MAX_DISTANCE_LIMIT:
        raise ConfigError(f"max_distance must be between 0 and {MAX_DISTANCE_LIMIT} bits")
    return max_distance


def find_duplicates(
    dataset_id: str, max_distance: int = DEFAULT_MAX_DISTANCE, store: Store | None = None
) -> list[DuplicateGroup]:
    """Exact groups first, then near groups; larger groups first within each kind."""
    check_max_distance(max_distance)
    store = store or Store()
    modality = store.dataset(dataset_id).modality
    hashed = PHASH_COLUMN in specification(modality)
    table = store.table(dataset_id, ["file", "sha256", *([PHASH_COLUMN] if hashed else [])])
    files = table.column("file").to_pylist()
    digests = table.column("sha256").to_pylist()
    groups = exact_groups(files, digests)
    if hashed:
        hashes = table.column(PHASH_COLUMN).to_pylist()
        groups += near_groups(files, digests, hashes, max_distance)
    return sorted(groups, key=lambda g: (g.kind != "exact", -len(g.files), g.files[0]))


def exact_groups(files: Sequence[str], digests: Sequence[str | None]) -> list[DuplicateGroup]:
    by_digest: dict[str, list[str]] = defaultdict(list)
    for file, digest in zip(files, digests, strict=True):
        if digest is not None:
            by_digest[digest].append(file)
    return [
        DuplicateGroup("exact", sorted(members), 0)
        for members in by_digest.values()
        if len(members) > 1
    ]


def near_groups(
    files: Sequence[str],
    digests: Sequence[str | None],
    hashes: Sequence[str | None],
    max_distance: int,
) -> list[DuplicateGroup]:
    """Groups of files whose hashes link within `max_distance` bits, unless all are identical."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows = [i for i, value in enumerate(hashes) if value is not None]
    if len(rows) < 2:
        return []
    values = np.array([int(hashes[i], 16) for i in rows], dtype=np.uint64)
    unique, row_hash = np.unique(values, return_inverse=True)
    first, second, _ = _native.near_pairs(unique, max_distance)
    links = coo_matrix((np.ones(len(first)), (first, second)), shape=(len(unique), len(unique)))
    _, component = connected_components(links, directed=False)
    members: dict[int, list[int]] = defaultdict(list)  # component -> positions in `rows`
    for position, hash_index in enumerate(row_hash):
        members[int(component[hash_index])].append(position)
    groups = []
    for positions in members.values():
        if len(positions) < 2 or len({digests[rows[p]] for p in positions}) < 2:
            continue
        spread = _spread(np.unique(values[positions]))
        groups.append(DuplicateGroup("near", sorted(files[rows[p]] for p in positions), spread))
    return groups


def _spread(hashes: np.ndarray, block: int = 1024) -> int:
    """The largest Hamming distance between two of `hashes` (uint64), in blocks of rows."""
    widest = 0
    for start in range(0, len(hashes), block):
        xor = hashes[start : start + block, None] ^ hashes[None, :]
        widest = max(widest, int(np.bitwise_count(xor).max()))
    return widest
