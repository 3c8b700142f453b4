"""A slow, literal NumPy/OpenCV transcription of NIST NFIQ 2 v2.3's native features.

It follows the published source step by step (matrix slices, cv2.warpAffine with nearest
neighbour, cv2.GaussianBlur, Otsu, findContours, floodFill: the calls NIST makes), so it is
independent of our C++ kernels, which re-implement those steps without OpenCV. Only for tests.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BLOCK = 32
SLANT_X, SLANT_Y = 32, 16
# NIST's histogram boundaries (the last bin is open).
FDA_LIMITS = (0.268, 0.304, 0.33, 0.355, 0.38, 0.407, 0.44, 0.50, 1.0)
LCS_LIMITS = (0.0, 0.70, 0.74, 0.77, 0.79, 0.81, 0.83, 0.85, 0.87)
OCL_LIMITS = (0.337, 0.479, 0.579, 0.655, 0.716, 0.766, 0.81, 0.852, 0.898)
OF_LIMITS = (1.715e-2, 3.5e-2, 5.57e-2, 8.1e-2, 1.15e-1, 1.718e-1, 2.569e-1, 4.758e-1, 7.48e-1)
RVUP_LIMITS = (0.5, 0.667, 0.8, 1.0, 1.25, 1.5, 2.0, 24.0, 30.0)


def crop_white_frame(img: np.ndarray) -> np.ndarray:
    """Rows, then columns, whose mean is above 250 are cut from each edge."""
    rows = img.sum(axis=1) / img.shape[1]
    cols = img.sum(axis=0) / img.shape[0]
    keep_r = np.nonzero(rows <= 250)[0]
    keep_c = np.nonzero(cols <= 250)[0]
    if keep_r.size == 0 or keep_c.size == 0:
        raise ValueError("blank")
    top, bottom = keep_r[0], keep_r[-1]
    left, right = keep_c[0], keep_c[-1]
    if right <= left or bottom <= top:
        raise ValueError("too small")
    return np.ascontiguousarray(img[top : bottom + 1, left : right + 1])


def histogram(values: list[float], limits: tuple[float, ...]) -> dict[str, float]:
    counts = [0] * 10
    for v in values:
        counts[sum(1 for b in limits if v >= b)] += 1
    arr = np.asarray(values, np.float64)
    out = {f"bin{i}": counts[i] for i in range(10)}
    out["mean"] = float(arr.mean()) if arr.size else float("nan")
    out["std"] = float(arr.std()) if arr.size else float("nan")
    return out


def segmentation_mask(img: np.ndarray) -> np.ndarray:
    """ridgesegment: each 32 x 32 tile (partial at the edges) is foreground when the std of the
    normalised image over it exceeds 0.1."""
    d = img.astype(np.float64)
    d = (d - d.mean()) / d.std()
    mask = np.zeros(img.shape, bool)
    for r in range(0, img.shape[0], BLOCK):
        for c in range(0, img.shape[1], BLOCK):
            tile = d[r : r + BLOCK, c : c + BLOCK]
            mask[r : r + BLOCK, c : c + BLOCK] = tile.std() > 0.1
    return mask


def diff_rows(a: np.ndarray) -> np.ndarray:
    """Centred differences down the rows, one-sided at the first and last row."""
    out = np.empty_like(a)
    out[0] = a[1] - a[0]
    out[-1] = a[-1] - a[-2]
    out[1:-1] = (a[2:] - a[:-2]) / 2.0
    return out


def block_orientation(block: np.ndarray) -> float:
    """covcoef (centred differences) then ridgeorient: atan2(c, a - b) / 2 as NIST writes it."""
    d = block.astype(np.float64)
    fy = diff_rows(d)
    fx = diff_rows(d.T).T
    a, b, c = (fx * fx).mean(), (fy * fy).mean(), (fx * fy).mean()
    denom = c * c + (a - b) ** 2 + np.finfo(float).eps
    return math.atan2(c / denom, (a - b) / denom) / 2


def window(img: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """img[top : top + size, left : left + size], zero outside the image."""
    out = np.zeros((size, size), img.dtype)
    t, lft = max(top, 0), max(left, 0)
    b, r = min(top + size, img.shape[0]), min(left + size, img.shape[1])
    out[t - top : b - top, lft - left : r - left] = img[t:b, lft:r]
    return out


def warp_nearest(src: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """cv::warpAffine(INTER_NEAREST, BORDER_CONSTANT 0) as OpenCV 4.6 computes it: the inverse
    map in 10-bit fixed point, half a unit added, then truncated (OpenCV 5 rounds differently)."""
    m = np.asarray(m, np.float64).reshape(-1).copy()
    det = m[0] * m[4] - m[1] * m[3]
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = m[4] * det, m[0] * det
    m[0], m[1], m[3], m[4] = a11, m[1] * -det, m[3] * -det, a22
    m[2], m[5] = -m[0] * m[2] - m[1] * m[5], -m[3] * m[2] - m[4] * m[5]
    scale = 1 << 10
    xs = np.arange(size)
    adelta = np.rint(m[0] * xs * scale).astype(np.int64)
    bdelta = np.rint(m[3] * xs * scale).astype(np.int64)
    out = np.zeros((size, size), src.dtype)
    for y in range(size):
        x0 = int(np.rint((m[1] * y + m[2]) * scale)) + scale // 2
        y0 = int(np.rint((m[4] * y + m[5]) * scale)) + scale // 2
        sx, sy = (x0 + adelta) >> 10, (y0 + bdelta) >> 10
        ok = (sx >= 0) & (sx < src.shape[1]) & (sy >= 0) & (sy < src.shape[0])
        out[y, ok] = src[sy[ok], sx[ok]]
    return out


def rotated(img: np.ndarray, r: int, c: int, angle: float, pad: bool) -> np.ndarray:
    """getRotatedBlock of the 36 x 36 window around the block at (r, c). With `pad`, NIST's
    copyMakeBorder of a sub-matrix takes the 2 extra pixels from the image itself (OpenCV extends
    a ROI into its parent), zero only outside the image; the 40 x 40 source is rotated about its
    centre (20, 20) into a 36 x 36 result."""
    src = window(img, r - 4, c - 4, 40) if pad else window(img, r - 2, c - 2, 36)
    centre = (src.shape[1] / 2.0, src.shape[0] / 2.0)
    m = cv2.getRotationMatrix2D(centre, angle * 180.0 / math.pi, 1.0)
    return warp_nearest(src, m, 36)


def ridge_valley(v2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means, their least-squares line over x = 1..n (coefficients rounded to 1e-10),
    and ridval = mean below the line."""
    v3 = v2.astype(np.float64).mean(axis=0)
    x = np.arange(1, v3.size + 1, dtype=np.float64)
    design = np.stack([np.ones_like(x), x], axis=1)
    coef = np.linalg.lstsq(design, v3, rcond=None)[0]
    coef = np.sign(coef) * np.floor(np.abs(coef) * 1e10 + 0.5) / 1e10
    dt = x * coef[1] + coef[0]
    return (v3 < dt).astype(np.uint8), dt


def fda_block(img: np.ndarray, r: int, c: int, orient: float) -> float:
    rot = rotated(img, r, c, orient + math.pi / 2, pad=True)
    cropped = rot[2:34, 10:26]
    t = cropped.astype(np.float64).mean(axis=1)
    amp = np.abs(np.fft.fft(t))[1:]
    loc = int(np.argmax(amp))
    denom = amp[: amp.size // 2].sum()
    if loc == 0 or loc + 1 >= amp.size:
        return 1.0
    return float((amp[loc] + 0.3 * (amp[loc - 1] + amp[loc + 1])) / denom)


def lcs_block(img: np.ndarray, r: int, c: int, orient: float) -> float:
    rot = rotated(img, r, c, orient, pad=False)
    v2 = rot[10:26, 2:34]
    ridval, dt = ridge_valley(v2)
    n = ridval.size
    change = [int(ridval[i] != ridval[i - 1]) for i in range(n)]
    idx = [i - 1 for i in range(1, n) if change[i]]
    if not idx:
        return 0.0
    wrv = [idx[0]] + [idx[i] - idx[i - 1] for i in range(1, len(idx))]
    norm = 500 / 125 * 5.0
    if ridval[0]:
        nwr, nwv = wrv[0::2], wrv[1::2]
    else:
        nwv, nwr = wrv[0::2], wrv[1::2]
    # cv::mean of the normalised widths: their sum times 1/n, in this order (bounds are exact)
    mr = sum(w / norm for w in nwr) * (1.0 / len(nwr)) if nwr else 0.0
    mv = sum(w / norm for w in nwv) * (1.0 / len(nwv)) if nwv else 0.0
    if not (3 / norm <= mr <= 10 / norm and 2 / norm <= mv <= 10 / norm):
        return 0.0
    ridge_good = ridge_n = valley_good = valley_n = 0
    for i in range(v2.shape[1]):
        col = v2[:, i].astype(np.float64)
        if ridval[i]:
            ridge_good += int((col >= dt[i]).sum())
            ridge_n += v2.shape[0]
        else:
            valley_good += int((col < dt[i]).sum())
            valley_n += v2.shape[0]
    return 1.0 - (valley_good / valley_n + ridge_good / ridge_n) / 2.0


def rvup_block(img: np.ndarray, r: int, c: int, orient: float) -> list[float]:
    rot = rotated(img, r, c, orient, pad=True)
    cropped = rot[10:26, 2:34]
    ridval, _ = ridge_valley(cropped)
    n = ridval.size
    change = [int(ridval[i] != ridval[i - 1]) for i in range(n - 1)]
    idx = [i - 1 for i in range(1, len(change)) if change[i]]
    if not idx:
        return []
    complete = ridval[idx[0] + 1 : idx[-1]]
    if complete.size == 0:
        return []
    begrid = int(complete[0])
    cic = [idx[i] - idx[0] for i in range(1, len(idx))]
    ratios: list[float] = []
    if len(cic) > 1:
        cc2 = [cic[i] - cic[i - 1] for i in range(len(cic) - 1, 0, -1)]
        ratios = [cc2[m] / cc2[m + 1] for m in range(len(cc2) - 1)]
        for i in range(begrid, len(ratios), 2):
            ratios[i] = 1.0 / ratios[i]
    return ratios


def block_grid(img: np.ndarray):
    """The offset block grid of FDA, LCS, OF and RVUP: (row, col, r, c) of each 32 x 32 block
    whose 36 x 36 window fits."""
    rows, cols = img.shape
    off = 2
    starts_r = range(off, rows - (BLOCK + off - 1), BLOCK)
    starts_c = range(off, cols - (BLOCK + off - 1), BLOCK)
    for br, r in enumerate(starts_r):
        for bc, c in enumerate(starts_c):
            yield br, bc, r, c


def offset_block_features(img: np.ndarray) -> dict[str, dict[str, float]]:
    mask = segmentation_mask(img)
    rows, cols = img.shape
    map_rows = int((rows - 4) / BLOCK)
    map_cols = int((cols - 4) / BLOCK)
    orient = np.zeros((map_rows, map_cols))
    seg = np.zeros((map_rows, map_cols), np.uint8)
    fda, lcs, rvup = [], [], []
    for br, bc, r, c in block_grid(img):
        inner = img[r : r + BLOCK, c : c + BLOCK]
        orient[br, bc] = block_orientation(inner)
        seg[br, bc] = mask[r : r + BLOCK, c : c + BLOCK].all()
        if seg[br, bc]:
            fda.append(fda_block(img, r, c, orient[br, bc]))
            lcs.append(lcs_block(img, r, c, orient[br, bc]))
            rvup.extend(rvup_block(img, r, c, orient[br, bc]))
    # orientation flow
    padded = np.pad(orient, 1)
    pseg = np.pad(seg, 1)
    angmin = math.radians(4.0)
    angdiff = math.radians(86.0)
    of = []
    for i in range(map_rows):
        for j in range(map_cols):
            d = np.abs(padded[i : i + 3, j : j + 3] - orient[i, j])
            d = np.minimum(d, 2 * math.pi - d)
            loq = d.sum() / 8.0
            if pseg[i : i + 3, j : j + 3].all() and loq > angmin:
                of.append((loq - angmin) / angdiff)
    return {
        "fda": histogram(fda, FDA_LIMITS),
        "lcs": histogram(lcs, LCS_LIMITS),
        "rvup": histogram(rvup, RVUP_LIMITS),
        "of": histogram(of, OF_LIMITS),
        "_orient": orient,
        "_seg": seg,
        "_fda_values": fda,
        "_lcs_values": lcs,
        "_rvup_values": rvup,
        "_of_values": of,
    }


def numerical_gradients(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = block.astype(np.float64)
    gx = np.zeros_like(d)
    gy = np.zeros_like(d)
    if d.shape[1] > 1:
        gx = diff_rows(d.T).T
    if d.shape[0] > 1:
        gy = diff_rows(d)
    return gx, gy


def ocl_values(img: np.ndarray) -> list[float]:
    out = []
    for i in range(0, img.shape[0] - BLOCK + 1, BLOCK):
        for j in range(0, img.shape[1] - BLOCK + 1, BLOCK):
            v = ocl_block(img[i : i + BLOCK, j : j + BLOCK])
            if v is not None:
                out.append(v)
    return out


def ocl_block(block: np.ndarray) -> float | None:
    gx, gy = numerical_gradients(block)
    n = block.size
    a, b, c = (gx * gx).sum() / n, (gy * gy).sum() / n, (gx * gy).sum() / n
    root = math.sqrt((a - b) ** 2 + 4 * c * c)
    emax, emin = ((a + b) + root) / 2, ((a + b) - root) / 2
    if emax == 0:
        return None
    return 1.0 - emin / emax


def mu_features(img: np.ndarray) -> dict[str, float]:
    means = [
        img[r : r + BLOCK, c : c + BLOCK].mean()
        for r in range(0, img.shape[0], BLOCK)
        for c in range(0, img.shape[1], BLOCK)
    ]
    return {"mmb": float(np.mean(means)), "mu": float(img.mean()), "sigma": float(img.std())}


def roi_mask(img: np.ndarray) -> np.ndarray:
    """ImgProcROI::computeROI with the same OpenCV calls: True where the pixel is foreground."""
    eroded = cv2.erode(img, np.ones((5, 5), np.uint8))
    blur = cv2.GaussianBlur(eroded, (41, 41), 0.0)
    _, th = cv2.threshold(blur, 0, 255, cv2.THRESH_OTSU)
    blur2 = cv2.GaussianBlur(th, (91, 91), 0.0)
    _, th2 = cv2.threshold(blur2, 0, 255, cv2.THRESH_OTSU)
    cont = ~th2
    contours, hierarchy = cv2.findContours(cont, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is not None:
        for h in range(len(contours)):
            if hierarchy[0][h][3] != -1:
                cv2.drawContours(th2, contours, h, 0, cv2.FILLED, 8, hierarchy)
    ff = th2.copy()
    rects, points = [], []
    while True:
        black = np.argwhere(ff == 0)
        if black.size == 0:
            break
        y, x = black[0]
        _, ff, _, rect = cv2.floodFill(ff, None, (int(x), int(y)), 255)
        rects.append(rect)
        points.append((int(x), int(y)))
    best, best_size = 0, 0
    for i, r in enumerate(rects):
        if r[2] * r[3] > best_size:
            best, best_size = i, r[2] * r[3]
    for i, p in enumerate(points):
        if i != best:
            cv2.floodFill(th2, None, p, 255)
    return th2 == 0


def roi_features(img: np.ndarray) -> dict[str, float]:
    mask = roi_mask(img)
    n = int(mask.sum())
    mean = float(img[mask].mean()) if n else 255.0
    coh_sum, roi_blocks = 0.0, 0
    for i in range(0, img.shape[0], BLOCK):
        for j in range(0, img.shape[1], BLOCK):
            if not mask[i : i + BLOCK, j : j + BLOCK].any():
                continue
            roi_blocks += 1
            gx, gy = numerical_gradients(img[i : i + BLOCK, j : j + BLOCK])
            sx = (gx * gx - gy * gy).sum()
            sy = (2 * gx * gy).sum()
            s2 = (gx * gx + gy * gy).sum()
            coh_sum += math.hypot(sx, sy) / s2 if s2 != 0 else 0.0
    return {
        "roi_pixels": n,
        "roi_mean": mean,
        "coherence_sum": coh_sum,
        "coherence_rel": coh_sum / roi_blocks if roi_blocks else 0.0,
    }


def minutiae_quality_features(img: np.ndarray, xy: list[tuple[int, int]]) -> dict[str, float]:
    """FJFXPos_Mu_MinutiaeQuality_2 and FJFXPos_OCL_MinutiaeQuality_80 for minutiae at `xy`,
    and the count in the 200 x 200 box around their centre of mass."""
    h, w = img.shape
    mean, std = img.mean(), img.std()
    mu_q = ocl_q = 0
    for x, y in xy:
        lx, ty = max(x - 16, 0), max(y - 16, 0)
        block = img[ty : ty + 32, lx : lx + 32]
        q = (mean - block.mean()) / std
        mu_q += 0 < q <= 0.5
        lx2 = min(lx, w - 32)
        ty2 = min(ty, h - 32)
        ocl = ocl_block(img[ty2 : ty2 + 32, lx2 : lx2 + 32]) or 0.0
        ocl_q += int(ocl * 100 + 0.5) > 80
    cx = sum(x for x, _ in xy) // len(xy)
    cy = sum(y for _, y in xy) // len(xy)
    x0, y0 = max(cx - 100, 0), max(cy - 100, 0)
    x1, y1 = min(cx + 100, w - 1), min(cy + 100, h - 1)
    com = sum(1 for x, y in xy if x0 <= x <= x1 and y0 <= y <= y1)
    return {"mu_q": mu_q / len(xy), "ocl_q": ocl_q / len(xy), "com200": com}


def nist_features(img: np.ndarray) -> dict[str, float]:
    """Every non-minutiae native feature under NIST's names, on the cropped image."""
    img = crop_white_frame(img)
    out: dict[str, float] = {}
    blocks = offset_block_features(img)
    for key, prefix in (("fda", "FDA"), ("lcs", "LCS"), ("rvup", "RVUP"), ("of", "OF")):
        h = blocks[key]
        for i in range(10):
            out[f"{prefix}_Bin10_{i}"] = h[f"bin{i}"]
        out[f"{prefix}_Bin10_Mean"] = h["mean"]
        out[f"{prefix}_Bin10_StdDev"] = h["std"]
    h = histogram(ocl_values(img), OCL_LIMITS)
    for i in range(10):
        out[f"OCL_Bin10_{i}"] = h[f"bin{i}"]
    out["OCL_Bin10_Mean"], out["OCL_Bin10_StdDev"] = h["mean"], h["std"]
    mu = mu_features(img)
    out["MMB"], out["Mu"], out["UniformImage"] = mu["mmb"], mu["mu"], mu["sigma"]
    out["EmptyImageOrContrastTooLow"] = mu["mu"]
    roi = roi_features(img)
    out["ImgProcROIArea_Mean"] = roi["roi_mean"]
    out["SufficientFingerprintForeground"] = roi["roi_pixels"]
    out["OrientationMap_ROIFilter_CoherenceSum"] = roi["coherence_sum"]
    out["OrientationMap_ROIFilter_CoherenceRel"] = roi["coherence_rel"]
    return out
