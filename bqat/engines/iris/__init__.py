"""Iris quality: pupil and limbus localisation, occlusion, the ISO/IEC 29794-6 measures (native).

The pixel work runs once per sample in `bqat._native.iris_assess`; its frozen result is what the
iris measures read.
"""

from bqat.engines.iris.engine import ENGINE

__all__ = ["ENGINE"]
