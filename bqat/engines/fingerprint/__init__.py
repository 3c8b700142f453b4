"""Fingerprint quality: NIST NFIQ 2 v2.3's native features and score, computed natively.

The image is brought to 8-bit grey at 500 ppi (resolution.py) and its near-white frame trimmed as
NIST does; one native pass (`_native.nfiq2_assess`) computes every NFIQ 2 native feature, our
minutiae and the features NIST takes at the minutiae; NIST's random forest (`nfiq2_forest`)
gives the score. On NIST's own inputs the non-minutiae features equal NIST's (tests against
../shared/reference/nfiq2-nist-outputs.json).

Where we differ from NIST NFIQ 2 v2.3, and why:

- Minutiae. FingerJetFX is not available; our extractor (native/src/minutiae*.cpp: orientation
  field on 8 x 8 cells, smoothing along the ridges and an even Gabor across them at the ridge
  period of the FDA spectra, binarisation, Zhang-Suen thinning, crossing number, removal of
  minutiae facing the edge of the print and of spurs, dots, lakes and broken ridges) gives
  FingerJetFX_MinutiaeCount, FingerJetFX_MinCount_COMMinRect200x200, the two FJFXPos shares and
  FingerprintImageWithMinutiae. Counts are within 30 % of FingerJetFX's on the samples (its
  settings were chosen there); the features NIST computes from the positions follow NIST's code.
  FingerJetFX needs 196 x 196 px and NIST pads smaller images with white; ours needs no padding.
- OpenCV steps are re-implemented, not linked: the nearest-neighbour block rotation as OpenCV 4.6
  computes it (10-bit fixed point; OpenCV 5 rounds differently, NIST built on 4.6), the bit-exact
  8-bit Gaussian blur, erosion, Otsu, contour hole filling and flood fill: equal results. The
  least-squares line of the ridge-valley step is solved in closed form, not by QR (NIST rounds
  its coefficients to 1e-10, which absorbs the difference); the 32-point DFT is direct.
- Refusals: where NIST throws (an all-white image at the trim, FDA on fewer than 10 blocks, a
  histogram without values) the record keeps the actionable feedback, the features that exist,
  and a null `nfiq2` with the reason in `measure_errors`. An empty or uniform image (NIST's
  thresholds: mean > 250, std < 1) has null features, as NIST computes none.
- Resolution: NIST's library takes 500 ppi only and its tool resamples with NFIR; we resample
  with OpenCV (area when reducing, bicubic when enlarging) and take a file's declared resolution
  only when it is 300 to 5000 ppi (resolution.py).
- The forest is NIST's (same arrays, same float32 comparisons); a missing feature (a share
  without minutiae, 0 / 0 in NIST) goes right at every node, as NaN compares false.
"""

from bqat.engines.fingerprint.engine import ENGINE

__all__ = ["ENGINE"]
