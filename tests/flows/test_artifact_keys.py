"""Artifact keys: what Prefect accepts, and short enough to title a card in the UI."""

from __future__ import annotations

import re

from flows.artifacts import artifact_key


def test_a_generated_dataset_id_is_cut_to_twelve_digits_in_the_key():
    generated = "8f84507e61b643a1a97d095720621bf0"
    assert artifact_key("scan-summary", generated) == "scan-summary-8f84507e61b6"


def test_a_named_dataset_keeps_its_name_in_prefects_alphabet():
    assert artifact_key("report", "Portraits_2026.v2") == "report-portraits-2026-v2"
    key = artifact_key("scan-progress", "x" * 300)
    assert re.fullmatch(r"[a-z0-9-]{1,100}", key)
