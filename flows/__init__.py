"""Prefect flows that orchestrate bqat scans (ingest, assess, store, outliers, reports)."""
