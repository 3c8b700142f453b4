"""The Prefect artifacts of test datasets on the session's Prefect server (tests/conftest.py's
`summarised_datasets`), for the deletion tests of the CLI, Python and the API."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey


def stored(key: str) -> list:
    """Every version of the artifact with this key on the session's Prefect server."""
    with get_client(sync_client=True) as prefect:
        return prefect.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )


def count(key: str) -> int:
    return len(stored(key))
