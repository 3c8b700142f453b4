"""The bqat HTTP API (Litestar, port 8848)."""
