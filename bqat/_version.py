"""The version of bqat, in one place."""

__version__ = "0.1.0"
