"""The result store: a DuckLake of one table per dataset, read and written by any process."""

from bqat.store.store import (
    DatasetInfo,
    Filter,
    Page,
    Store,
    check_dataset_id,
    check_layout,
    check_reference,
    shared_store,
)

__all__ = [
    "DatasetInfo",
    "Filter",
    "Page",
    "Store",
    "check_dataset_id",
    "check_layout",
    "check_reference",
    "shared_store",
]
