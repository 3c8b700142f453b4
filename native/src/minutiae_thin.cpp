// Thinning and the crossing number of our minutiae extractor.
#include <array>
#include <cstdint>
#include <vector>

#include "bqat/minutiae_steps.hpp"
#include "bqat/nfiq2_blocks.hpp"

namespace bqat::minutiae {

namespace {

// Neighbour k (0..7) clockwise from north: N, NE, E, SE, S, SW, W, NW.
constexpr int kDx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
constexpr int kDy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

// One Zhang-Suen sub-step over a row of a zero-framed 0/1 image, written as 0/1 arithmetic on
// whole rows so that it vectorises: out = mid without the pixels the rule deletes. Returns how
// many it deleted.
BQAT_AVX2_CLONES int thin_row(const std::uint8_t* BQAT_RESTRICT up, const std::uint8_t* BQAT_RESTRICT mid,
                              const std::uint8_t* BQAT_RESTRICT down, std::uint8_t* BQAT_RESTRICT out,
                              int n, int step) {
    int deleted = 0;
    for (int x = 1; x <= n; ++x) {
        const std::uint8_t p = mid[x];
        const std::uint8_t nn = up[x], ne = up[x + 1], e = mid[x + 1], se = down[x + 1];
        const std::uint8_t s = down[x], sw = down[x - 1], w = mid[x - 1], nw = up[x - 1];
        const std::uint8_t b = nn + ne + e + se + s + sw + w + nw;
        const std::uint8_t a = ((nn ^ 1) & ne) + ((ne ^ 1) & e) + ((e ^ 1) & se) + ((se ^ 1) & s) +
                               ((s ^ 1) & sw) + ((sw ^ 1) & w) + ((w ^ 1) & nw) + ((nw ^ 1) & nn);
        const std::uint8_t keep_shape = step == 0 ? ((nn & e & s) | (e & s & w)) : ((nn & e & w) | (nn & s & w));
        const std::uint8_t del = p & (b >= 2) & (b <= 6) & (a == 1) & (keep_shape ^ 1);
        out[x] = p & (del ^ 1);
        deleted += del;
    }
    return deleted;
}

}  // namespace

void thin(std::vector<std::uint8_t>& bits, int w, int h) {
    // Zero-framed copies, swapped at each sub-step (Zhang-Suen decides on the previous image).
    const int wp = w + 2;
    std::vector<std::uint8_t> img(static_cast<std::size_t>(wp) * (h + 2), 0), next(img.size(), 0);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) img[(y + 1) * wp + x + 1] = bits[static_cast<std::size_t>(y) * w + x] != 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (int step = 0; step < 2; ++step) {
            int deleted = 0;
            for (int y = 1; y <= h; ++y) {
                const std::uint8_t* row = img.data() + static_cast<std::size_t>(y) * wp;
                deleted += thin_row(row - wp, row, row + wp, next.data() + static_cast<std::size_t>(y) * wp, w, step);
            }
            img.swap(next);
            changed |= deleted > 0;
        }
    }
    int offset[8];
    for (int k = 0; k < 8; ++k) offset[k] = kDy[k] * wp + kDx[k];
    // Staircases: a pixel whose only two neighbours are perpendicular 4-neighbours is a corner
    // that 8-connectivity does not need.
    for (int y = 1; y <= h; ++y)
        for (int x = 1; x <= w; ++x) {
            const int p = y * wp + x;
            if (!img[p]) continue;
            int code = 0;
            for (int k = 0; k < 8; ++k) code |= img[p + offset[k]] << k;
            if (code == (1 | 4) || code == (4 | 16) || code == (16 | 64) || code == (64 | 1)) img[p] = 0;
        }
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            bits[static_cast<std::size_t>(y) * w + x] = img[(y + 1) * wp + x + 1];
}

int crossing_number(const std::vector<std::uint8_t>& bits, int w, int h, int x, int y) {
    int v[8];
    for (int k = 0; k < 8; ++k) {
        const int xx = x + kDx[k], yy = y + kDy[k];
        v[k] = xx >= 0 && xx < w && yy >= 0 && yy < h ? bits[static_cast<std::size_t>(yy) * w + xx] != 0 : 0;
    }
    int changes = 0;
    for (int k = 0; k < 8; ++k) changes += v[k] != v[(k + 1) & 7];
    return changes / 2;
}

}  // namespace bqat::minutiae
