// NFIQ 2's local features on the offset block grid: frequency domain analysis (FDA), local
// clarity (LCS), ridge-valley uniformity (RVUP) and orientation flow (OF).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bqat/nfiq2.hpp"
#include "bqat/nfiq2_blocks.hpp"

namespace bqat::nfiq2 {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kFdaLimits[9] = {0.268, 0.304, 0.33, 0.355, 0.38, 0.407, 0.44, 0.50, 1};
constexpr double kLcsLimits[9] = {0, 0.70, 0.74, 0.77, 0.79, 0.81, 0.83, 0.85, 0.87};
constexpr double kRvupLimits[9] = {0.5, 0.667, 0.8, 1, 1.25, 1.5, 2, 24, 30};
constexpr double kOfLimits[9] = {1.715e-2, 3.5e-2,    5.57e-2,  8.1e-2, 1.15e-1,
                                 1.718e-1, 2.569e-1, 4.758e-1, 7.48e-1};

// The cos/sin table of a 32-point DFT.
struct Dft32 {
    double c[32], s[32];
    Dft32() {
        for (int i = 0; i < 32; ++i) {
            c[i] = std::cos(2 * kPi * i / 32);
            s[i] = std::sin(2 * kPi * i / 32);
        }
    }
};

// FDA of one block: rotate so ridges run across the 32 rows, average each row over 16 columns,
// and compare the strongest non-DC amplitude (with 0.3 of its neighbours) with the sum of the
// first 15. `period` gets 32 / k of the peak frequency k (0 when the peak is at an end).
double fda_block(const Grey& image, int top, int left, double orientation, double& period) {
    static const Dft32 dft;
    Window w;
    rotated_window(image, top, left, orientation + kPi / 2, true, w);
    double t[32];
    for (int r = 0; r < 32; ++r) {
        unsigned int s = 0;
        for (int c = 10; c < 26; ++c) s += w[(r + 2) * 36 + c];
        t[r] = static_cast<double>(s) / 16;
    }
    // amp[k - 1] = |F_k| for k = 1..31; a real signal's spectrum is symmetric, so k <= 16 is
    // computed and mirrored.
    double amp[31];
    for (int k = 1; k <= 16; ++k) {
        double re = 0, im = 0;
        for (int n = 0; n < 32; ++n) {
            const int idx = (k * n) & 31;
            re += t[n] * dft.c[idx];
            im -= t[n] * dft.s[idx];
        }
        amp[k - 1] = std::sqrt(re * re + im * im);
        if (k < 16) amp[31 - k] = amp[k - 1];
    }
    int loc = 0;
    for (int i = 1; i < 31; ++i)
        if (amp[i] > amp[loc]) loc = i;
    double denom = 0;
    for (int i = 0; i < 15; ++i) denom += amp[i];
    if (loc == 0 || loc + 1 >= 31) {
        period = 0;
        return 1.0;
    }
    // The peak's frequency refined between the bins by a parabola through the three amplitudes.
    const double a = amp[loc - 1], b = amp[loc], c = amp[loc + 1];
    const double curvature = a - 2 * b + c;
    const double shift = curvature < 0 ? std::clamp(0.5 * (a - c) / curvature, -0.5, 0.5) : 0.0;
    period = 32.0 / (loc + 1 + shift);
    return (amp[loc] + 0.3 * (amp[loc - 1] + amp[loc + 1])) / denom;
}

// LCS of one block: ridge and valley widths must be plausible at 500 ppi; then the share of
// pixels on the wrong side of the ridge-valley line.
double lcs_block(const Grey& image, int top, int left, double orientation) {
    Window w;
    rotated_window(image, top, left, orientation, false, w);
    const RidgeValley rv = ridge_valley(w, 10, 16, 2, 32);
    const int n = rv.n;
    std::uint8_t index[32];
    int changes = 0;
    for (int i = 1; i < n; ++i)
        if (rv.ridge[i] != rv.ridge[i - 1]) index[changes++] = static_cast<std::uint8_t>(i - 1);
    if (changes == 0) return 0.0;
    std::uint8_t widths[32];
    widths[0] = index[0];
    for (int i = 1; i < changes; ++i) widths[i] = static_cast<std::uint8_t>(index[i] - index[i - 1]);
    constexpr double norm = (500.0 / 125.0) * 5.0;  // NIST's scale for a 500 ppi scanner
    // Ridge widths are the odd (1-based) entries when the profile starts on a ridge.
    const int ridge_first = rv.ridge[0] ? 0 : 1;
    double ridge_sum = 0, valley_sum = 0;
    int ridge_n = 0, valley_n = 0;
    for (int i = 0; i < changes; ++i) {
        if ((i % 2 == 0) == (ridge_first == 0)) {
            ridge_sum += widths[i] / norm;
            ++ridge_n;
        } else {
            valley_sum += widths[i] / norm;
            ++valley_n;
        }
    }
    const double ridge_mean = ridge_n ? ridge_sum * (1.0 / ridge_n) : 0.0;
    const double valley_mean = valley_n ? valley_sum * (1.0 / valley_n) : 0.0;
    if (!(ridge_mean >= 3.0 / norm && ridge_mean <= 10.0 / norm && valley_mean >= 2.0 / norm &&
          valley_mean <= 10.0 / norm))
        return 0.0;
    int ridge_good = 0, ridge_pixels = 0, valley_good = 0, valley_pixels = 0;
    for (int i = 0; i < n; ++i) {
        const double line = rv.line[i];
        for (int r = 10; r < 26; ++r) {
            const double p = w[r * 36 + 2 + i];
            if (rv.ridge[i]) ridge_good += p >= line;
            else valley_good += p < line;
        }
        (rv.ridge[i] ? ridge_pixels : valley_pixels) += 16;
    }
    const double alpha = static_cast<double>(valley_good) / valley_pixels;
    const double beta = static_cast<double>(ridge_good) / ridge_pixels;
    return 1.0 - (alpha + beta) / 2.0;
}

// RVUP of one block: the ratios of successive complete ridge and valley widths, each ridge over
// its valley.
void rvup_block(const Grey& image, int top, int left, double orientation,
                std::vector<double>& out) {
    Window w;
    rotated_window(image, top, left, orientation, true, w);
    const RidgeValley rv = ridge_valley(w, 10, 16, 2, 32);
    const int n = rv.n;
    // NIST compares each of the first n - 1 entries with its predecessor (the first with the
    // last) and drops the first comparison.
    int index[32];
    int changes = 0;
    for (int i = 1; i < n - 1; ++i)
        if (rv.ridge[i] != rv.ridge[i - 1]) index[changes++] = i - 1;
    if (changes == 0) return;
    if (index[0] + 1 >= index[changes - 1]) return;  // no complete ridge or valley
    const int begins_with_ridge = rv.ridge[index[0] + 1];
    if (changes - 1 <= 1) return;
    // Widths of the complete runs, last first.
    int widths[32];
    int m = 0;
    for (int i = changes - 1; i > 1; --i) widths[m++] = index[i] - index[i - 1];
    const std::size_t start = out.size();
    for (int i = 0; i + 1 < m; ++i)
        out.push_back(static_cast<double>(widths[i]) / static_cast<double>(widths[i + 1]));
    for (std::size_t i = start + begins_with_ridge; i < out.size(); i += 2) out[i] = 1 / out[i];
}

}  // namespace

LocalFeatures local_features(const Grey& image) {
    LocalFeatures f;
    const int h = image.height, w = image.width;
    // The grid NIST uses: blocks at 2 + 32 k while the 36 x 36 window fits.
    const double diff = 4.0;  // ceil(sqrt(32^2 + 16^2)) - 32
    f.rows = std::max(0, static_cast<int>((h - diff) / kBlock));
    f.cols = std::max(0, static_cast<int>((w - diff) / kBlock));
    f.orientation.assign(static_cast<std::size_t>(f.rows) * f.cols, 0.0);
    f.foreground.assign(f.orientation.size(), 0);
    f.fda_period.assign(f.orientation.size(), 0.0);
    const std::vector<std::uint8_t> mask = segmentation_mask(image);
    std::vector<double> fda, lcs, rvup;
    fda.reserve(f.orientation.size());
    lcs.reserve(f.orientation.size());
    rvup.reserve(f.orientation.size() * 8);
    int br = 0;
    for (int r = kOffset; r < h - (kBlock + kOffset - 1); r += kBlock, ++br) {
        int bc = 0;
        for (int c = kOffset; c < w - (kBlock + kOffset - 1); c += kBlock, ++bc) {
            if (br >= f.rows || bc >= f.cols) continue;
            const std::size_t b = static_cast<std::size_t>(br) * f.cols + bc;
            const double angle = block_orientation(image, r, c);
            f.orientation[b] = angle;
            bool all = true;
            for (int y = r; y < r + kBlock && all; ++y)
                for (int x = c; x < c + kBlock; ++x)
                    if (!mask[static_cast<std::size_t>(y) * w + x]) {
                        all = false;
                        break;
                    }
            f.foreground[b] = all;
            if (!all) continue;
            fda.push_back(fda_block(image, r - kOffset, c - kOffset, angle, f.fda_period[b]));
            lcs.push_back(lcs_block(image, r - kOffset, c - kOffset, angle));
            rvup_block(image, r - kOffset, c - kOffset, angle, rvup);
        }
    }
    // Orientation flow: the mean angular difference to the 8 neighbours (the map padded with 0),
    // for blocks whose 3 x 3 neighbourhood is all foreground and that differ by more than 4 deg.
    std::vector<double> of;
    const double angmin = 4.0 * (kPi / 180.0), angdiff = (90.0 - 4.0) * (kPi / 180.0);
    const double full = (kPi / 180.0) * 360.0;
    for (int i = 0; i < f.rows; ++i) {
        for (int j = 0; j < f.cols; ++j) {
            const double centre = f.orientation[static_cast<std::size_t>(i) * f.cols + j];
            double loq = 0;
            bool all = true;
            for (int di = -1; di <= 1; ++di) {
                for (int dj = -1; dj <= 1; ++dj) {
                    const int y = i + di, x = j + dj;
                    const bool inside = y >= 0 && y < f.rows && x >= 0 && x < f.cols;
                    const std::size_t k = static_cast<std::size_t>(y) * f.cols + x;
                    const double other = inside ? f.orientation[k] : 0.0;
                    double d = std::abs(centre - other);
                    d = std::min(d, full - d);
                    loq += d;
                    if (!inside || !f.foreground[k]) all = false;
                }
            }
            loq /= 8.0;
            if (all && loq > angmin) of.push_back((loq - angmin) / angdiff);
        }
    }
    f.fda = histogram(std::move(fda), kFdaLimits);
    f.lcs = histogram(std::move(lcs), kLcsLimits);
    f.rvup = histogram(std::move(rvup), kRvupLimits);
    f.of = histogram(std::move(of), kOfLimits);
    return f;
}

}  // namespace bqat::nfiq2
