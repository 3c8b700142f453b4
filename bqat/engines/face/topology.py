"""Indices into MediaPipe's 468-point canonical face mesh, named once for every face module.

Pairs list the image-left point first; on an unmirrored photo the image-left eye is the
subject's RIGHT eye (ISO/IEC 39794-5 names sides from the subject).
"""

RIGHT_EYE_CORNERS = (33, 133)  # subject's right eye: outer, inner corner
LEFT_EYE_CORNERS = (362, 263)  # subject's left eye: inner, outer corner
EYE_OUTER = (33, 263)  # outer corners of both eyes
RIGHT_EYE_LIDS = ((160, 144), (159, 145), (158, 153), (157, 154))  # (upper, lower) lid pairs
LEFT_EYE_LIDS = ((385, 380), (386, 374), (387, 373), (384, 381))
MOUTH_CORNERS = (61, 291)
INNER_LIPS = (13, 14)  # upper, lower
NOSE_BRIDGE = 6
CHIN = 152
CHIN_POINTS = (152, 148, 377)
FACE_SIDE_LEFT = (127, 234, 93)  # image-left contour at ear level
FACE_SIDE_RIGHT = (356, 454, 323)
RIGHT_IRIS = 468  # FaceLandmarker v2: the subject's right iris centre, then 4 edge points
LEFT_IRIS = 473
