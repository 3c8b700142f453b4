"""Prefect artifact keys and links shared by the flows."""

from __future__ import annotations

import re
from urllib.parse import quote

from prefect.artifacts import create_link_artifact

from bqat.settings import get_settings


def artifact_key(kind: str, dataset_id: str) -> str:
    """Prefect artifact keys allow lower-case letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]", "-", f"{kind}-{dataset_id}".lower())[:100]


def publish_link(kind: str, dataset_id: str, route: str, text: str) -> None:
    """A link artifact to an API route (`route` starts with '/'), shown in the Prefect UI."""
    create_link_artifact(
        key=artifact_key(kind, dataset_id),
        link=get_settings().api_url + quote(route, safe="/?=&"),
        link_text=text,
    )
