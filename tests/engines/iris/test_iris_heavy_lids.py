"""Heavy eyelids on synthetic eyes with known answers: small pupils under a lid past their centre
(the pupil search must not take a dark patch, an inscribed circle or the whole iris for the
pupil), and the usable iris area under lids from clear of the pupil to 30 px past the iris
centre (the iris grey reference must come from iris that is seen, not from fixed side sectors
that turn into lid skin)."""

from __future__ import annotations

import math

import pytest
from iris_synthetic import draw_eye

from bqat import _native

# Pupil radius (px) and how far the lid margin reaches past the pupil centre (px), leaving at
# least 15 px of the pupil's height uncovered: a 10 px sliver keeps 83-106 degrees of the pupil's
# edge, and a circle on so short an arc swings by more than 2 px with the sub-pixel errors of
# its ends (where the lid margin blurs the edge).
SMALL_PUPILS_UNDER_LIDS = [
    (radius, past)
    for radius in (25, 30, 35, 40)
    for past in (10, 15, 20, 25)
    if past <= radius - 15
]
SEEDS = (0, 1, 2)


def under_lid(side: str, radius: float, past: float, seed: int):
    """An eye (iris (320, 240, 110)) whose upper or lower lid margin lies `past` px beyond the
    pupil centre, with twice the default sensor noise."""
    if side == "upper":
        pupil = (322.0, 244.0, radius)
        return draw_eye(pupil=pupil, upper_lid=pupil[1] + past, noise=4.0, seed=seed)
    pupil = (322.0, 236.0, radius)
    return draw_eye(pupil=pupil, lower_lid=pupil[1] - past, noise=4.0, seed=seed)


@pytest.mark.parametrize("side", ["upper", "lower"])
@pytest.mark.parametrize(("radius", "past"), SMALL_PUPILS_UNDER_LIDS)
def test_small_pupils_under_a_lid_past_their_centre_are_located_within_2_px(side, radius, past):
    for seed in SEEDS:
        eye = under_lid(side, radius, past, seed)
        found = _native.iris_locate(eye.image)
        assert found["found"], (seed, found["reason"])
        for circle, truth in ((found["pupil"], eye.pupil), (found["iris"], eye.iris)):
            error = max(
                math.hypot(circle[0] - truth[0], circle[1] - truth[1]), abs(circle[2] - truth[2])
            )
            assert error <= 2.0, (seed, circle, truth)


def lid_at(side: str, offset: float, **more) -> dict:
    """Drawing options: the upper or lower lid margin `offset` px past the iris centre (negative:
    short of it), the pupil (r 55) 6 px off-centre towards the lid."""
    if side == "upper":
        return {"pupil": (322.0, 246.0, 55.0), "upper_lid": 240.0 + offset, **more}
    return {"pupil": (322.0, 234.0, 55.0), "lower_lid": 240.0 - offset, **more}


LASHES = {"lashes": 12}
HIGHLIGHTS_LOW = {"speculars": ((300.0, 282.0, 6.0), (350.0, 300.0, 5.0))}
HIGHLIGHTS_HIGH = {"speculars": ((300.0, 198.0, 6.0), (350.0, 180.0, 5.0))}


def lid_name(side: str, offset: int) -> str:
    where = f"{offset}-px-past" if offset > 0 else f"{-offset}-px-short-of" if offset else "at"
    return f"{side}-lid-{where}-the-centre"


LIDS = {
    "no-lid": {},
    **{
        lid_name(side, offset): lid_at(side, offset)
        for side in ("upper", "lower")
        for offset in (-20, 0, 10, 20, 30)
    },
    "upper-lid-30-px-past-with-lashes": lid_at("upper", 30, **LASHES),
    "upper-lid-20-px-past-with-lashes-and-highlights": lid_at(
        "upper", 20, **LASHES, **HIGHLIGHTS_LOW
    ),
    "lower-lid-30-px-past-with-highlights": lid_at("lower", 30, **HIGHLIGHTS_HIGH),
}


@pytest.mark.parametrize("name", list(LIDS))
def test_the_usable_area_under_lids_up_to_past_the_centre_matches_the_drawing(name):
    # Within 3 points (of the annulus, in %) on the drawn circles and 4 on the located ones: the
    # tolerances of the engine's other usable-area tests. Before the reference came from seen
    # iris, a lid 30 px past the centre measured 62% for the drawing's 37%.
    eye = draw_eye(**LIDS[name])
    given = _native.iris_measures(eye.image, eye.pupil, eye.iris)["usable_iris_area"]
    assert given == pytest.approx(eye.usable_iris_area, abs=3.0)
    located = _native.iris_assess(eye.image)["measures"]["usable_iris_area"]
    assert located == pytest.approx(eye.usable_iris_area, abs=4.0)
