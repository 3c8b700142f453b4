// The white-frame trim, NIST's histograms and the block steps the local features share.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "bqat/nfiq2.hpp"
#include "bqat/nfiq2_blocks.hpp"

namespace bqat::nfiq2 {

namespace {

constexpr double kPi = 3.14159265358979323846;  // M_PI and CV_PI
constexpr double kWhiteRow = 250.0;             // a row or column with a mean above is frame

double row_mean(const ImageView& image, int y) {
    unsigned int sum = 0;
    for (int x = 0; x < image.width; ++x) sum += *image.pixel(y, x);
    return static_cast<double>(sum) / image.width;
}

double column_mean(const ImageView& image, int x) {
    unsigned int sum = 0;
    for (int y = 0; y < image.height; ++y) sum += *image.pixel(y, x);
    return static_cast<double>(sum) / image.height;
}

}  // namespace

Frame white_frame(const ImageView& image) {
    Frame f;
    int top = 0, bottom = image.height - 1;
    while (top < image.height && row_mean(image, top) > kWhiteRow) ++top;
    if (top >= image.height) {
        f.reason = "every row is near-white (mean grey level above 250)";
        return f;
    }
    while (bottom >= top && row_mean(image, bottom) > kWhiteRow) --bottom;
    int left = 0, right = image.width - 1;
    while (left < image.width && column_mean(image, left) > kWhiteRow) ++left;
    if (left >= image.width) {
        f.reason = "every column is near-white (mean grey level above 250)";
        return f;
    }
    while (right >= left && column_mean(image, right) > kWhiteRow) --right;
    f.top = top;
    f.bottom = std::max(bottom, 0);
    f.left = left;
    f.right = std::max(right, 0);
    if (f.right <= f.left || f.bottom <= f.top) {
        f.reason = "the fingerprint left after trimming the white frame is " +
                   std::to_string(std::max(f.right - f.left + 1, 0)) + " x " +
                   std::to_string(std::max(f.bottom - f.top + 1, 0)) +
                   " px; NFIQ 2 needs at least 2 x 2";
        return f;
    }
    f.ok = true;
    return f;
}

Grey copy_region(const ImageView& image, const Frame& frame) {
    Grey g;
    g.width = frame.right - frame.left + 1;
    g.height = frame.bottom - frame.top + 1;
    g.pixels.resize(static_cast<std::size_t>(g.width) * g.height);
    for (int y = 0; y < g.height; ++y) {
        std::uint8_t* out = g.pixels.data() + static_cast<std::size_t>(y) * g.width;
        if (image.pixel_stride == 1) {
            std::copy_n(image.pixel(frame.top + y, frame.left), g.width, out);
        } else {
            for (int x = 0; x < g.width; ++x) out[x] = *image.pixel(frame.top + y, frame.left + x);
        }
    }
    return g;
}

Histogram histogram(std::vector<double> values, const double (&limits)[9]) {
    Histogram h;
    h.values = values;
    std::sort(values.begin(), values.end());
    int bucket = 0;
    for (double v : values) {
        // NIST advances the bucket while v >= the next boundary; an infinite value stays where
        // the previous value put it.
        while (!std::isinf(v) && bucket < 9 && v >= limits[bucket]) ++bucket;
        ++h.bins[bucket];
    }
    if (!values.empty()) {
        double sum = 0, squares = 0;
        for (double v : values) {
            sum += v;
            squares += v * v;
        }
        const double n = static_cast<double>(values.size());
        h.mean = sum / n;
        h.std = std::sqrt(std::max(squares / n - h.mean * h.mean, 0.0));
    }
    return h;
}

std::vector<std::uint8_t> segmentation_mask(const Grey& image) {
    const int w = image.width, h = image.height;
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(w) * h, 0);
    std::uint64_t sum = 0, squares = 0;
    for (std::uint8_t p : image.pixels) {
        sum += p;
        squares += static_cast<std::uint64_t>(p) * p;
    }
    const double n = static_cast<double>(image.pixels.size());
    const double mean = static_cast<double>(sum) / n;
    const double std = std::sqrt(std::max(static_cast<double>(squares) / n - mean * mean, 0.0));
    if (!(std > 0)) return mask;  // NIST divides by zero: every comparison with NaN is false
    for (int r = 0; r < h; r += kBlock) {
        for (int c = 0; c < w; c += kBlock) {
            const int r1 = std::min(r + kBlock, h), c1 = std::min(c + kBlock, w);
            std::uint64_t s = 0, q = 0;
            for (int y = r; y < r1; ++y) {
                const std::uint8_t* row = image.row(y);
                for (int x = c; x < c1; ++x) {
                    s += row[x];
                    q += static_cast<std::uint64_t>(row[x]) * row[x];
                }
            }
            const double m = static_cast<double>((r1 - r) * (c1 - c));
            const double tm = static_cast<double>(s) / m;
            const double tile_std = std::sqrt(std::max(static_cast<double>(q) / m - tm * tm, 0.0));
            if (tile_std / std > 0.1) {
                for (int y = r; y < r1; ++y)
                    std::fill(mask.begin() + static_cast<std::ptrdiff_t>(y) * w + c,
                              mask.begin() + static_cast<std::ptrdiff_t>(y) * w + c1, 1);
            }
        }
    }
    return mask;
}

void row_gradient(const std::uint8_t* in, std::ptrdiff_t step, int n, double* out) {
    if (n < 2) {
        if (n == 1) out[0] = 0;
        return;
    }
    out[0] = static_cast<double>(in[step]) - in[0];
    for (int i = 1; i < n - 1; ++i)
        out[i] = (static_cast<double>(in[(i + 1) * step]) - in[(i - 1) * step]) / 2.0;
    out[n - 1] = static_cast<double>(in[(n - 1) * step]) - in[(n - 2) * step];
}

GradientMoments gradient_moments(const Grey& image, int top, int left) {
    double fx[kBlock], fy[kBlock * kBlock];
    // fy: down each column; fx: along each row.
    for (int x = 0; x < kBlock; ++x) {
        double column[kBlock];
        row_gradient(image.row(top) + left + x, image.width, kBlock, column);
        for (int y = 0; y < kBlock; ++y) fy[y * kBlock + x] = column[y];
    }
    // NIST sums column by column (k over x, l over y); the order only moves the last bits.
    double a = 0, b = 0, c = 0;
    for (int y = 0; y < kBlock; ++y) {
        row_gradient(image.row(top + y) + left, 1, kBlock, fx);
        for (int x = 0; x < kBlock; ++x) {
            const double gy = fy[y * kBlock + x];
            a += fx[x] * fx[x];
            b += gy * gy;
            c += fx[x] * gy;
        }
    }
    constexpr double n = kBlock * kBlock;
    return {a / n, b / n, c / n};
}

double block_orientation(const Grey& image, int top, int left) {
    const auto [a, b, c] = gradient_moments(image, top, left);
    const double d = a - b;
    const double denom = (c * c + d * d) + std::numeric_limits<double>::epsilon();
    return std::atan2(c / denom, d / denom) / 2;
}

void rotated_window(const Grey& image, int top, int left, double angle, bool pad, Window& out) {
    const int size = pad ? 40 : 36;
    const int sy = pad ? top - 2 : top, sx = pad ? left - 2 : left;
    // cv::getRotationMatrix2D(centre, angle in degrees, 1), then warpAffine's inversion.
    const double centre = static_cast<double>(static_cast<float>(size) / 2.0f);
    const double degrees = angle * (180.0 / kPi);
    const double radians = degrees * (kPi / 180.0);
    const double alpha = std::cos(radians), beta = std::sin(radians);
    double m[6] = {alpha, beta, (1 - alpha) * centre - beta * centre,
                   -beta, alpha, beta * centre + (1 - alpha) * centre};
    double det = m[0] * m[4] - m[1] * m[3];
    det = det != 0 ? 1. / det : 0;
    const double a11 = m[4] * det, a22 = m[0] * det;
    m[0] = a11;
    m[1] *= -det;
    m[3] *= -det;
    m[4] = a22;
    const double b1 = -m[0] * m[2] - m[1] * m[5];
    const double b2 = -m[3] * m[2] - m[4] * m[5];
    m[2] = b1;
    m[5] = b2;
    // OpenCV's INTER_NEAREST map: 10 fraction bits, half a unit added, arithmetic shift.
    constexpr int bits = 10, scale = 1 << bits, half = scale / 2;
    int adelta[36], bdelta[36];
    for (int x = 0; x < 36; ++x) {
        adelta[x] = static_cast<int>(std::lrint(m[0] * x * scale));
        bdelta[x] = static_cast<int>(std::lrint(m[3] * x * scale));
    }
    for (int y = 0; y < 36; ++y) {
        const int x0 = static_cast<int>(std::lrint((m[1] * y + m[2]) * scale)) + half;
        const int y0 = static_cast<int>(std::lrint((m[4] * y + m[5]) * scale)) + half;
        for (int x = 0; x < 36; ++x) {
            const int u = (x0 + adelta[x]) >> bits, v = (y0 + bdelta[x]) >> bits;
            std::uint8_t value = 0;
            if (u >= 0 && u < size && v >= 0 && v < size) {
                const int iy = sy + v, ix = sx + u;
                if (iy >= 0 && iy < image.height && ix >= 0 && ix < image.width)
                    value = image.at(iy, ix);
            }
            out[y * 36 + x] = value;
        }
    }
}

RidgeValley ridge_valley(const Window& w, int r0, int nr, int c0, int nc) {
    RidgeValley rv;
    rv.n = nc;
    double sy = 0, sxy = 0;
    for (int i = 0; i < nc; ++i) {
        unsigned int s = 0;
        for (int r = r0; r < r0 + nr; ++r) s += w[r * 36 + c0 + i];
        rv.mean[i] = static_cast<double>(s) / nr;
        sy += rv.mean[i];
        sxy += (i + 1) * rv.mean[i];
    }
    // Least squares of mean = intercept + slope x over x = 1..nc (NIST solves it by QR and
    // rounds both coefficients to 10 decimals, which absorbs the difference).
    const double n = nc, sx = n * (n + 1) / 2, sxx = n * (n + 1) * (2 * n + 1) / 6;
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    double intercept = (sy - slope * sx) / n;
    slope = std::round(slope * 10000000000.0) / 10000000000.0;
    intercept = std::round(intercept * 10000000000.0) / 10000000000.0;
    for (int i = 0; i < nc; ++i) {
        rv.line[i] = static_cast<double>(i + 1) * slope + intercept;
        rv.ridge[i] = rv.mean[i] < rv.line[i] ? 1 : 0;
    }
    return rv;
}

}  // namespace bqat::nfiq2
