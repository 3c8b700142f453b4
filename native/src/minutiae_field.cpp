// The orientation field, ridge period and orientation-guided enhancement of our minutiae
// extractor.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bqat/minutiae_steps.hpp"
#include "bqat/nfiq2_blocks.hpp"

namespace bqat::minutiae {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kBins = 32;       // quantised ridge directions over [0, pi)
constexpr int kMaxTaps = 12;    // most taps each side of either filter
constexpr int kPad = 2 * kMaxTaps + 2 * kCell;  // cells 2 beyond the image, plus both filters
constexpr int kSmoothCells = 2;  // tensor smoothing radius in cells (5 x 5)

// out[j] = sum over t of weight[t] src[j + offset[t]] for the 8 pixels of a cell's row.
BQAT_AVX2_CLONES void filter8(const float* src, const std::ptrdiff_t* offset, const float* weight,
                              int taps, float* out) {
    float acc[kCell] = {};
    for (int t = 0; t < taps; ++t) {
        const float wt = weight[t];
        const float* p = src + offset[t];
        for (int j = 0; j < kCell; ++j) acc[j] += wt * p[j];
    }
    for (int j = 0; j < kCell; ++j) out[j] = acc[j];
}

int bin_of(double angle) {
    int b = static_cast<int>(std::floor(angle / kPi * kBins + 0.5));
    return ((b % kBins) + kBins) % kBins;
}

}  // namespace

OrientationField orientation_field(const nfiq2::Grey& image) {
    const int w = image.width, h = image.height;
    OrientationField f;
    f.cols = (w + kCell - 1) / kCell;
    f.rows = (h + kCell - 1) / kCell;
    const std::size_t cells = static_cast<std::size_t>(f.cols) * f.rows;
    std::vector<double> gxx(cells, 0), gyy(cells, 0), gxy(cells, 0), count(cells, 0);
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* up = image.row(std::max(y - 1, 0));
        const std::uint8_t* mid = image.row(y);
        const std::uint8_t* down = image.row(std::min(y + 1, h - 1));
        const std::size_t crow = static_cast<std::size_t>(y / kCell) * f.cols;
        for (int x = 0; x < w; ++x) {
            const int l = std::max(x - 1, 0), r = std::min(x + 1, w - 1);
            const int gx = (up[r] + 2 * mid[r] + down[r]) - (up[l] + 2 * mid[l] + down[l]);
            const int gy = (down[l] + 2 * down[x] + down[r]) - (up[l] + 2 * up[x] + up[r]);
            const std::size_t c = crow + x / kCell;
            gxx[c] += gx * gx;
            gyy[c] += gy * gy;
            gxy[c] += gx * gy;
            count[c] += 1;
        }
    }
    f.angle.assign(cells, 0);
    f.coherence.assign(cells, 0);
    f.energy.assign(cells, 0);
    for (std::size_t c = 0; c < cells; ++c) f.energy[c] = (gxx[c] + gyy[c]) / std::max(count[c], 1.0);
    for (int i = 0; i < f.rows; ++i) {
        for (int j = 0; j < f.cols; ++j) {
            double a = 0, b = 0, c = 0;
            for (int di = -kSmoothCells; di <= kSmoothCells; ++di) {
                const int ii = i + di;
                if (ii < 0 || ii >= f.rows) continue;
                for (int dj = -kSmoothCells; dj <= kSmoothCells; ++dj) {
                    const int jj = j + dj;
                    if (jj < 0 || jj >= f.cols) continue;
                    const std::size_t k = static_cast<std::size_t>(ii) * f.cols + jj;
                    a += gxx[k];
                    b += gyy[k];
                    c += gxy[k];
                }
            }
            const std::size_t k = static_cast<std::size_t>(i) * f.cols + j;
            // Gradient direction 0.5 atan2(2 gxy, gxx - gyy); ridges run across it.
            double ridge = 0.5 * std::atan2(2 * c, a - b) + kPi / 2;
            if (ridge >= kPi) ridge -= kPi;
            if (ridge < 0) ridge += kPi;
            f.angle[k] = ridge;
            f.coherence[k] = (a + b) > 0 ? std::sqrt((a - b) * (a - b) + 4 * c * c) / (a + b) : 0;
        }
    }
    return f;
}

double ridge_period(const nfiq2::LocalFeatures& local) {
    std::vector<double> periods;
    for (std::size_t i = 0; i < local.fda_period.size(); ++i)
        if (local.foreground[i] && local.fda_period[i] >= 4 && local.fda_period[i] <= 16)
            periods.push_back(local.fda_period[i]);
    if (periods.empty()) return 9.0;
    std::nth_element(periods.begin(), periods.begin() + periods.size() / 2, periods.end());
    return std::clamp(periods[periods.size() / 2], 6.0, 14.0);
}

std::vector<float> enhance(const nfiq2::Grey& image, const OrientationField& field, double period,
                           const std::vector<std::uint8_t>& where, const Params& params) {
    const int w = image.width, h = image.height;
    const int kAlong = std::clamp(params.along_taps, 0, kMaxTaps);
    const int kAcross = std::clamp(params.across_taps, 1, kMaxTaps);
    const int wp = w + 2 * kPad, hp = h + 2 * kPad;
    // The image with kPad replicated pixels on every side (scratch kept per thread: fresh
    // allocations of this size cost page faults on every call).
    thread_local std::vector<float> padded, smooth;
    padded.resize(static_cast<std::size_t>(wp) * hp);
    for (int y = 0; y < hp; ++y) {
        const std::uint8_t* row = image.row(std::clamp(y - kPad, 0, h - 1));
        float* out = padded.data() + static_cast<std::size_t>(y) * wp;
        for (int x = 0; x < wp; ++x) out[x] = row[std::clamp(x - kPad, 0, w - 1)];
    }
    // Filter taps per direction bin, as offsets in the padded image.
    std::vector<float> along(2 * kAlong + 1), across(2 * kAcross + 1);
    double total = 0;
    const double along_sigma = std::max(params.along_sigma, 0.1);
    for (int t = -kAlong; t <= kAlong; ++t)
        total += along[t + kAlong] = static_cast<float>(std::exp(-t * t / (2 * along_sigma * along_sigma)));
    for (float& v : along) v = static_cast<float>(v / total);
    const double sigma = std::max(params.across_sigma * period, 0.5);
    double mean = 0;
    for (int t = -kAcross; t <= kAcross; ++t) {
        across[t + kAcross] = static_cast<float>(std::exp(-t * t / (2 * sigma * sigma)) *
                                                 std::cos(2 * kPi * t / period));
        mean += across[t + kAcross];
    }
    mean /= 2 * kAcross + 1;
    for (float& v : across) v = static_cast<float>(v - mean);
    std::vector<std::vector<std::ptrdiff_t>> along_at(kBins, std::vector<std::ptrdiff_t>(along.size()));
    std::vector<std::vector<std::ptrdiff_t>> across_at(kBins, std::vector<std::ptrdiff_t>(across.size()));
    for (int b = 0; b < kBins; ++b) {
        const double a = b * kPi / kBins, c = std::cos(a), s = std::sin(a);
        for (int t = -kAlong; t <= kAlong; ++t)
            along_at[b][t + kAlong] = std::lround(t * s) * wp + std::lround(t * c);
        for (int t = -kAcross; t <= kAcross; ++t)
            across_at[b][t + kAcross] = std::lround(t * c) * wp - std::lround(t * s);
    }
    auto bin_at = [&](int cx, int cy) {
        cx = std::clamp(cx, 0, field.cols - 1);
        cy = std::clamp(cy, 0, field.rows - 1);
        return bin_of(field.angle[static_cast<std::size_t>(cy) * field.cols + cx]);
    };
    // Which cells need the enhanced value, and which the smoothed one (their 5 x 5 cells).
    std::vector<std::uint8_t> need(static_cast<std::size_t>(field.cols) * field.rows, 0);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            if (where[static_cast<std::size_t>(y) * w + x])
                need[static_cast<std::size_t>(y / kCell) * field.cols + x / kCell] = 1;
    auto needed_near = [&](int cx, int cy) {
        for (int dy = -2; dy <= 2; ++dy)
            for (int dx = -2; dx <= 2; ++dx) {
                const int x = cx + dx, y = cy + dy;
                if (x >= 0 && x < field.cols && y >= 0 && y < field.rows &&
                    need[static_cast<std::size_t>(y) * field.cols + x])
                    return true;
            }
        return false;
    };
    // Smoothed along the ridge, for every pixel within kAcross of a needed one; a cell's row of
    // 8 pixels shares its taps, so each tap is one 8-wide multiply-add.
    smooth.assign(padded.size(), 0.0f);
    const int na = 2 * kAlong + 1, nc = 2 * kAcross + 1;
    for (int cy = -2; cy <= field.rows + 1; ++cy) {
        for (int cx = -2; cx <= field.cols + 1; ++cx) {
            if (!needed_near(cx, cy)) continue;
            const auto& taps = along_at[bin_at(cx, cy)];
            for (int y = cy * kCell; y < cy * kCell + kCell; ++y) {
                const std::size_t at = static_cast<std::size_t>(y + kPad) * wp + kPad + cx * kCell;
                filter8(padded.data() + at, taps.data(), along.data(), na, smooth.data() + at);
            }
        }
    }
    // The even Gabor across the ridge.
    std::vector<float> out(static_cast<std::size_t>(w) * h, 0.0f);
    float row8[kCell];
    for (int cy = 0; cy < field.rows; ++cy) {
        for (int cx = 0; cx < field.cols; ++cx) {
            if (!need[static_cast<std::size_t>(cy) * field.cols + cx]) continue;
            const auto& taps = across_at[bin_at(cx, cy)];
            const int x0 = cx * kCell, n = std::min(kCell, w - x0);
            for (int y = cy * kCell; y < std::min(cy * kCell + kCell, h); ++y) {
                const std::size_t at = static_cast<std::size_t>(y + kPad) * wp + kPad + x0;
                filter8(smooth.data() + at, taps.data(), across.data(), nc, row8);
                const std::size_t o = static_cast<std::size_t>(y) * w + x0;
                for (int j = 0; j < n; ++j)
                    if (where[o + j]) out[o + j] = row8[j];
            }
        }
    }
    return out;
}

}  // namespace bqat::minutiae
