"""Exact and near-duplicate groups: hand-built cases, and random data against a plain reference."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from bqat.duplicates import (
    DEFAULT_MAX_DISTANCE,
    DuplicateGroup,
    check_max_distance,
    exact_groups,
    find_duplicates,
    near_groups,
)
from bqat.exceptions import ConfigError
from bqat.phash import image_phash
from bqat.store import Store


def hexed(value: int) -> str:
    return f"{value:016x}"


def flip(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


BASE = 0x0123_4567_89AB_CDEF


def test_identical_content_forms_exact_groups_and_nothing_else():
    groups = exact_groups(["a", "b", "c", "d", "e"], ["x", "y", "x", None, None])
    assert groups == [DuplicateGroup("exact", ["a", "c"], 0)]


def test_near_groups_follow_the_hand_computed_distances():
    far = BASE ^ 0xFFFF_FFFF_0000_0000
    chain_start = 0x0F0F_0F0F_0F0F_0F0F
    rows = [
        ("close_1", "s1", BASE),
        ("close_2", "s2", flip(BASE, 0, 9, 63)),  # 3 bits from close_1
        ("far", "s3", far),
        ("chain_1", "s4", chain_start),
        ("chain_2", "s5", flip(chain_start, 1, 2, 3, 4, 5)),  # 5 from chain_1
        ("chain_3", "s6", flip(chain_start, 1, 2, 3, 4, 5, 20, 21, 22, 23, 24)),  # 5 + 5
        ("recoded_1", "s7", 0xAAAA_0000_AAAA_0000),
        ("recoded_2", "s8", 0xAAAA_0000_AAAA_0000),  # same hash, other bytes
        ("copy_1", "s9", 0x5555_5555_0000_0000),
        ("copy_2", "s9", 0x5555_5555_0000_0000),  # same bytes: an exact group only
        ("unhashed", "s10", None),
    ]
    files, digests, hashes = zip(*rows, strict=True)
    found = near_groups(files, digests, [None if h is None else hexed(h) for h in hashes], 6)
    assert sorted(found, key=lambda g: g.files) == [
        DuplicateGroup("near", ["chain_1", "chain_2", "chain_3"], 10),
        DuplicateGroup("near", ["close_1", "close_2"], 3),
        DuplicateGroup("near", ["recoded_1", "recoded_2"], 0),
    ]
    assert near_groups(files, digests, [hexed(h or 0) for h in hashes], 2) == [
        DuplicateGroup("near", ["recoded_1", "recoded_2"], 0)
    ]


def reference_groups(hashes: list[int], digests: list[str], limit: int) -> list[set[int]]:
    """Single-linkage groups by comparing every pair (union-find), the slow obvious way."""
    parent = list(range(len(hashes)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(hashes)), 2):
        if bin(hashes[i] ^ hashes[j]).count("1") <= limit:
            parent[root(i)] = root(j)
    groups: dict[int, set[int]] = {}
    for i in range(len(hashes)):
        groups.setdefault(root(i), set()).add(i)
    return [g for g in groups.values() if len(g) > 1 and len({digests[i] for i in g}) > 1]


@pytest.mark.parametrize("limit", [0, 2, 6, 12])
def test_random_clusters_match_an_all_pairs_reference(limit):
    rng = np.random.default_rng(limit)
    hashes: list[int] = []
    for _ in range(60):
        centre = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        hashes.append(centre)
        for _ in range(int(rng.integers(0, 4))):
            bits = rng.choice(64, int(rng.integers(0, 9)), replace=False)
            hashes.append(flip(centre, *map(int, bits)))
    digests = [f"d{i % 97}" for i in range(len(hashes))]  # some rows share content
    files = [f"f{i:03d}" for i in range(len(hashes))]
    found = near_groups(files, digests, [hexed(h) for h in hashes], limit)
    expected = reference_groups(hashes, digests, limit)
    assert sorted(g.files for g in found) == sorted(sorted(files[i] for i in g) for g in expected)
    for group in found:
        members = [hashes[files.index(f)] for f in group.files]
        widest = max(bin(a ^ b).count("1") for a, b in itertools.combinations(members, 2))
        assert group.distance == widest


@pytest.mark.parametrize("bad", [-1, 13, "3", True, 2.0])
def test_max_distance_is_checked(bad):
    with pytest.raises(ConfigError, match="max_distance"):
        check_max_distance(bad)


def test_a_dataset_lists_exact_groups_first_then_larger_near_groups_first(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("ds", "face")
    rows = [
        ("a.jpg", "1", BASE),
        ("a_copy.jpg", "1", BASE),
        ("b.jpg", "2", flip(BASE, 5)),
        ("c.jpg", "3", 0xFFFF_0000_FFFF_0000),
        ("c_small.jpg", "4", flip(0xFFFF_0000_FFFF_0000, 1, 2)),
        ("alone.jpg", "5", 0x0000_FFFF_0000_FFFF),
    ]
    store.append(
        "ds",
        rows=[
            {"file": f, "sha256": s * 64, "phash": hexed(h), "engine_version": "t"}
            for f, s, h in rows
        ],
    )
    assert find_duplicates("ds", store=store) == [
        DuplicateGroup("exact", ["a.jpg", "a_copy.jpg"], 0),
        DuplicateGroup("near", ["a.jpg", "a_copy.jpg", "b.jpg"], 1),
        DuplicateGroup("near", ["c.jpg", "c_small.jpg"], 2),
    ]


def test_re_encoded_and_resized_copies_of_a_sample_stay_within_the_default_distance(samples):
    """The default catches the copies people make; distinct subjects are far apart."""
    greys = [
        cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((samples / "face").glob("*.jpg"))
    ]
    for grey in greys:
        h, w = grey.shape
        copies = [
            cv2.resize(grey, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
            cv2.imdecode(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], 0),
            np.clip(grey.astype(int) + 15, 0, 255).astype(np.uint8),
        ]
        for copy in copies:
            distance = bin(int(image_phash(grey), 16) ^ int(image_phash(copy), 16)).count("1")
            assert distance <= DEFAULT_MAX_DISTANCE
    hashes = [int(image_phash(g), 16) for g in greys]
    for a, b in itertools.combinations(hashes, 2):
        assert bin(a ^ b).count("1") > 2 * DEFAULT_MAX_DISTANCE


def test_the_verb_says_when_there_are_no_groups(capsys):
    from bqat.cli import main

    store = Store()
    store.create_dataset("unique", "face")
    far_apart = [BASE, BASE ^ 0xFFFF_FFFF_0000_0000]  # 32 bits differ
    rows = [
        {"file": f"{i}.jpg", "sha256": f"{i:064x}", "phash": hexed(value)}
        for i, value in enumerate(far_apart)
    ]
    store.append("unique", rows=rows)
    assert main(["duplicates", "unique"]) == 0
    assert capsys.readouterr().out == "no duplicate groups\n"
    assert main(["duplicates", "unique", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
