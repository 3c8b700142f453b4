"""The result store: Parquet parts per batch, read through DuckDB by any process."""

from bqat.store.store import DatasetInfo, Filter, Page, Store, check_dataset_id

__all__ = ["DatasetInfo", "Filter", "Page", "Store", "check_dataset_id"]
