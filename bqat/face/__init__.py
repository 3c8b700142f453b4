"""Face preprocessing: detection (YuNet), the 468-point mesh and the iris (MediaPipe).

Each stage runs once per sample and its frozen result is what the face measures read.
"""
