// NFIQ 2's aligned-block features: orientation certainty (OCL), contrast (Mu, MMB), and the
// features NIST takes at the minutiae positions.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bqat/nfiq2.hpp"
#include "bqat/nfiq2_blocks.hpp"

namespace bqat::nfiq2 {

namespace {

constexpr double kOclLimits[9] = {0.337, 0.479, 0.579, 0.655, 0.716, 0.766, 0.81, 0.852, 0.898};

}  // namespace

double ocl_block(const Grey& image, int top, int left) {
    const auto [a, b, c] = gradient_moments(image, top, left);
    const double root = std::sqrt(std::pow(a - b, 2) + 4 * std::pow(c, 2));
    const double eig_max = ((a + b) + root) / 2.0, eig_min = ((a + b) - root) / 2.0;
    if (eig_max == 0) return -1.0;
    return 1.0 - eig_min / eig_max;
}

Histogram ocl_histogram(const Grey& image) {
    std::vector<double> values;
    for (int i = 0; i + kBlock <= image.height; i += kBlock) {
        for (int j = 0; j + kBlock <= image.width; j += kBlock) {
            const double v = ocl_block(image, i, j);
            if (v >= 0) values.push_back(v);
        }
    }
    return histogram(std::move(values), kOclLimits);
}

Contrast contrast(const Grey& image) {
    Contrast c;
    const int w = image.width, h = image.height;
    std::vector<double> means;
    for (int i = 0; i < h; i += kBlock) {
        for (int j = 0; j < w; j += kBlock) {
            const int i1 = std::min(i + kBlock, h), j1 = std::min(j + kBlock, w);
            unsigned int s = 0;
            for (int y = i; y < i1; ++y) {
                const std::uint8_t* row = image.row(y);
                for (int x = j; x < j1; ++x) s += row[x];
            }
            means.push_back(static_cast<double>(s) / ((i1 - i) * (j1 - j)));
        }
    }
    const double count = static_cast<double>(means.size());
    for (double m : means) c.mmb += m / count;
    std::uint64_t sum = 0, squares = 0;
    for (std::uint8_t p : image.pixels) {
        sum += p;
        squares += static_cast<std::uint64_t>(p) * p;
    }
    const double n = static_cast<double>(image.pixels.size());
    c.mu = static_cast<double>(sum) / n;
    c.sigma = std::sqrt(std::max(static_cast<double>(squares) / n - c.mu * c.mu, 0.0));
    return c;
}

MinutiaePositionFeatures minutiae_position_features(const Grey& image, const std::vector<int>& xs,
                                                    const std::vector<int>& ys) {
    MinutiaePositionFeatures f;
    const int w = image.width, h = image.height;
    const std::size_t n = xs.size();
    f.count = static_cast<int>(n);
    if (n == 0) {
        f.mu_quality_2 = f.ocl_quality_80 = std::nan("");  // NIST divides 0 by 0
        return f;
    }
    const Contrast whole = contrast(image);
    int mu_good = 0, ocl_good = 0;
    unsigned int sx = 0, sy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const int x = xs[i], y = ys[i];
        sx += static_cast<unsigned int>(x);
        sy += static_cast<unsigned int>(y);
        // Local mean of the 32 x 32 block from (x - 16, y - 16), clipped to the image.
        const int lx = std::max(x - kBlock / 2, 0), ty = std::max(y - kBlock / 2, 0);
        const int bw = std::min(kBlock, w - lx), bh = std::min(kBlock, h - ty);
        unsigned int s = 0;
        for (int yy = ty; yy < ty + bh; ++yy)
            for (int xx = lx; xx < lx + bw; ++xx) s += image.at(yy, xx);
        const double local = static_cast<double>(s) / (bw * bh);
        const double q = (whole.mu - local) / whole.sigma;
        if (q > 0.0 && q <= 0.5) ++mu_good;
        // OCL of the 32 x 32 block from there, moved inside the image.
        int ox = lx, oy = ty;
        if (ox + kBlock > w) ox = w - kBlock;
        if (oy + kBlock > h) oy = h - kBlock;
        double ocl = 0.0;
        if (ox >= 0 && oy >= 0) ocl = std::max(ocl_block(image, oy, ox), 0.0);
        if (static_cast<int>(ocl * 100 + 0.5) > 80) ++ocl_good;
    }
    f.mu_quality_2 = static_cast<double>(mu_good) / static_cast<double>(n);
    f.ocl_quality_80 = static_cast<double>(ocl_good) / static_cast<double>(n);
    // Minutiae in the 200 x 200 box around their centre of mass (integer mean), clipped.
    const int cx = static_cast<int>(sx / n), cy = static_cast<int>(sy / n);
    const int x0 = std::max(cx - 100, 0), y0 = std::max(cy - 100, 0);
    const int x1 = std::min(cx + 100, w - 1), y1 = std::min(cy + 100, h - 1);
    for (std::size_t i = 0; i < n; ++i)
        if (xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1) ++f.com_rect_200;
    return f;
}

}  // namespace bqat::nfiq2
