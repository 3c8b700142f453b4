"""Face quality: detection (YuNet), FaceLandmarker v2 (MediaPipe), ISO/IEC 29794-5.

Each stage runs once per sample and its frozen result is what the face measures read.
"""

from bqat.engines.face.engine import ENGINE

__all__ = ["ENGINE"]
