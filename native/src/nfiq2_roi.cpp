// NFIQ 2's region of interest (ImgProcROI) and the coherence of its blocks (QualityMap).
//
// NIST: erode 5 x 5, Gaussian 41 x 41, Otsu, Gaussian 91 x 91, Otsu; holes in the foreground
// filled (cv::findContours RETR_CCOMP + drawContours), and of the 4-connected foreground
// components only the one with the largest bounding box kept (cv::floodFill).
#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bqat/nfiq2.hpp"
#include "bqat/nfiq2_blocks.hpp"

namespace bqat::nfiq2 {

namespace {

// cv::borderInterpolate(p, n, BORDER_REFLECT_101).
int reflect101(int p, int n) {
    if (n == 1) return 0;
    while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
    return p;
}

// Connected components (4-connectivity) of the pixels equal to `value`, as runs of a row.
struct Run {
    int y, x0, x1;  // pixels [x0, x1) of row y
    int part;       // component, numbered in raster order of its first pixel
};

// The runs of `value` row by row, joined with the overlapping runs of the row above (union-find
// on runs; the smallest run index, the component's first in raster order, is the root).
int runs_of(const std::vector<std::uint8_t>& img, int w, int h, std::uint8_t value,
            std::vector<Run>& runs) {
    runs.clear();
    std::vector<int> parent;
    auto find = [&](int a) {
        while (parent[a] != a) a = parent[a] = parent[parent[a]];
        return a;
    };
    std::size_t above = 0, above_end = 0;  // the previous row's runs
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* row = img.data() + static_cast<std::size_t>(y) * w;
        const std::size_t first = runs.size();
        for (int x = 0; x < w;) {
            if (row[x] != value) {
                ++x;
                continue;
            }
            const int x0 = x;
            while (x < w && row[x] == value) ++x;
            const int index = static_cast<int>(runs.size());
            runs.push_back({y, x0, x, index});
            parent.push_back(index);
            for (std::size_t j = above; j < above_end; ++j) {
                if (runs[j].x1 <= x0) {
                    above = j + 1;  // no later run of this row reaches it either
                    continue;
                }
                if (runs[j].x0 >= x) break;
                const int a = find(static_cast<int>(j)), b = find(index);
                parent[std::max(a, b)] = std::min(a, b);
            }
        }
        above = first;
        above_end = runs.size();
    }
    std::vector<int> id(parent.size(), -1);
    int count = 0;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const int root = find(static_cast<int>(i));
        if (id[root] < 0) id[root] = count++;
        runs[i].part = id[root];
    }
    return count;
}

void paint(std::vector<std::uint8_t>& img, int w, const Run& run, std::uint8_t value) {
    std::fill(img.begin() + static_cast<std::ptrdiff_t>(run.y) * w + run.x0,
              img.begin() + static_cast<std::ptrdiff_t>(run.y) * w + run.x1, value);
}

// QualityMap::getAngleOfBlock's coherence: |sum of (gx^2 - gy^2, 2 gx gy)| over the sum of
// their norms, centred differences inside the block (0 along a side of one pixel).
double block_coherence(const Grey& image, int top, int left, int bw, int bh) {
    double gx[kBlock], gy[kBlock * kBlock], column[kBlock];
    for (int x = 0; x < bw; ++x) {
        row_gradient(image.row(top) + left + x, image.width, bh, column);
        for (int y = 0; y < bh; ++y) gy[static_cast<std::size_t>(y) * bw + x] = column[y];
    }
    double sum_x = 0, sum_y = 0, norms = 0;
    for (int y = 0; y < bh; ++y) {
        row_gradient(image.row(top + y) + left, 1, bw, gx);
        for (int x = 0; x < bw; ++x) {
            const double fx = gx[x], fy = gy[static_cast<std::size_t>(y) * bw + x];
            const double dy = 2 * fx * fy, dx = fx * fx - fy * fy;
            sum_y += dy;
            sum_x += dx;
            norms += std::sqrt(dy * dy + dx * dx);
        }
    }
    const double total = std::sqrt(sum_x * sum_x + sum_y * sum_y);
    return norms != 0 ? total / norms : 0.0;
}

}  // namespace

std::vector<std::uint8_t> erode5(const std::uint8_t* pixels, int w, int h) {
    // Separable minimum over 5 x 5; rows padded with 255 so pixels outside never win.
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(w) * h), out(rows.size());
    std::vector<std::uint8_t> padded(static_cast<std::size_t>(w) + 4, 255);
    for (int y = 0; y < h; ++y) {
        std::copy_n(pixels + static_cast<std::size_t>(y) * w, w, padded.begin() + 2);
        const std::uint8_t* BQAT_RESTRICT p = padded.data();
        std::uint8_t* BQAT_RESTRICT o = rows.data() + static_cast<std::size_t>(y) * w;
        for (int x = 0; x < w; ++x)
            o[x] = std::min(std::min(std::min(p[x], p[x + 1]), std::min(p[x + 2], p[x + 3])), p[x + 4]);
    }
    for (int y = 0; y < h; ++y) {
        std::uint8_t* BQAT_RESTRICT o = out.data() + static_cast<std::size_t>(y) * w;
        std::copy_n(rows.data() + static_cast<std::size_t>(y) * w, w, o);
        for (int t = std::max(y - 2, 0); t <= std::min(y + 2, h - 1); ++t) {
            if (t == y) continue;
            const std::uint8_t* BQAT_RESTRICT in = rows.data() + static_cast<std::size_t>(t) * w;
            for (int x = 0; x < w; ++x) o[x] = std::min(o[x], in[x]);
        }
    }
    return out;
}

std::vector<int> gaussian_kernel_q8(int n) {
    // getGaussianKernelBitExact (sigma 0: 0.15 n + 0.35, as one fused multiply-add), then
    // getGaussianKernelFixedPoint_ED: 8 fraction bits, rounding error carried along the taps,
    // the centre tap making the sum exactly 256.
    const double sigma = std::fma(static_cast<double>(n), 0.15, 0.35);
    const double scale2 = -0.125 / (sigma * sigma);
    const int half = (n - 1) / 2;
    std::vector<double> values(static_cast<std::size_t>(half));
    double sum = 0;
    for (int i = 0, x = 1 - n; i < half; ++i, x += 2) {
        values[i] = std::exp(static_cast<double>(x * x) * scale2);
        sum += values[i];
    }
    sum *= 2;
    sum += 1;
    const double mul = 1 / sum;
    std::vector<int> k(static_cast<std::size_t>(n));
    double err = 0;
    int total = 0;
    for (int i = 0; i < half; ++i) {
        const double adjusted = values[i] * mul * 256.0 + err;
        const int v = static_cast<int>(std::nearbyint(adjusted));
        err = adjusted - v;
        k[i] = k[n - 1 - i] = v;
        total += v;
    }
    k[half] = 256 - 2 * total;
    return k;
}

namespace {

// Eight floats in a register pair (SSE) or one register (AVX2), read from any float address
// (GCC and Clang vector extensions).
typedef float Float8 __attribute__((vector_size(32), aligned(4), may_alias));
#define BQAT_LOAD8(p) (*reinterpret_cast<const Float8*>(p))

// out[x] = k[r] c[x] + sum over t of k[r - t] (a_t[x] + b_t[x]): one symmetric pass, 32
// outputs at a time held in registers (each tap: 2 loads, an add and a multiply-add per vector).
BQAT_AVX2_CLONES void symmetric_sum(const float* BQAT_RESTRICT centre, const float* const* a,
                                    const float* const* b, const float* k, int r, int n,
                                    float* BQAT_RESTRICT out) {
    const float kc = k[r];
    int x = 0;
    for (; x + 32 <= n; x += 32) {
        Float8 s0 = kc * BQAT_LOAD8(centre + x), s1 = kc * BQAT_LOAD8(centre + x + 8);
        Float8 s2 = kc * BQAT_LOAD8(centre + x + 16), s3 = kc * BQAT_LOAD8(centre + x + 24);
        for (int t = 1; t <= r; ++t) {
            const float kt = k[r - t];
            const float* pa = a[t] + x;
            const float* pb = b[t] + x;
            s0 += kt * (BQAT_LOAD8(pa) + BQAT_LOAD8(pb));
            s1 += kt * (BQAT_LOAD8(pa + 8) + BQAT_LOAD8(pb + 8));
            s2 += kt * (BQAT_LOAD8(pa + 16) + BQAT_LOAD8(pb + 16));
            s3 += kt * (BQAT_LOAD8(pa + 24) + BQAT_LOAD8(pb + 24));
        }
        *reinterpret_cast<Float8*>(out + x) = s0;
        *reinterpret_cast<Float8*>(out + x + 8) = s1;
        *reinterpret_cast<Float8*>(out + x + 16) = s2;
        *reinterpret_cast<Float8*>(out + x + 24) = s3;
    }
    for (; x < n; ++x) {
        float acc = kc * centre[x];
        for (int t = 1; t <= r; ++t) acc += k[r - t] * (a[t][x] + b[t][x]);
        out[x] = acc;
    }
}

}  // namespace

namespace {

// The row pass of a binary (0 / 255) image in Q8, by runs: a run of set pixels [s, e) of the
// extended row adds 255 (C[min(e - x, n)] - C[max(s - x, 0)]) to output x, C the kernel's
// cumulative sums; a mask row holds a few runs, so this costs about w + n per run, not w n.
void binary_row(const std::uint8_t* ext, int length, const std::vector<int>& cumulative, int n,
                int w, float* out) {
    std::fill(out, out + w, 0.0f);
    for (int s = 0; s < length;) {
        if (!ext[s]) {
            ++s;
            continue;
        }
        int e = s;
        while (e < length && ext[e]) ++e;
        // Outputs whose window [x, x + n) meets [s, e).
        for (int x = std::max(s - n + 1, 0); x < std::min(e, w); ++x) {
            const int hi = std::min(e - x, n), lo = std::max(s - x, 0);
            out[x] += 255.0f * static_cast<float>(cumulative[hi] - cumulative[lo]);
        }
        s = e;
    }
}

}  // namespace

std::vector<std::uint8_t> gaussian_blur(const std::uint8_t* pixels, int w, int h, int n,
                                        bool binary) {
    // OpenCV's bit-exact 8-bit path: rows in Q8, columns in Q16, rounded to nearest. Every
    // partial sum is an integer below 2^24, so float arithmetic is exact (and vectorises).
    // The two kernels the ROI uses are computed once per process.
    static const std::vector<int> k41 = gaussian_kernel_q8(41), k91 = gaussian_kernel_q8(91);
    const std::vector<int> k = n == 41 ? k41 : n == 91 ? k91 : gaussian_kernel_q8(n);
    const int r = n / 2;
    const std::vector<float> kf(k.begin(), k.end());
    std::vector<int> cumulative(static_cast<std::size_t>(n) + 1, 0);
    for (int i = 0; i < n; ++i) cumulative[i + 1] = cumulative[i] + k[i];
    thread_local std::vector<float> rows;  // scratch kept per thread (no page faults per call)
    rows.resize(static_cast<std::size_t>(w) * h);
    const int length = w + 2 * r;
    std::vector<float> ext(static_cast<std::size_t>(length));
    std::vector<std::uint8_t> bits(static_cast<std::size_t>(length));
    std::vector<int> border;  // source columns of the 2 r reflected pixels
    for (int i = 0; i < r; ++i) border.push_back(reflect101(i - r, w));
    for (int i = w + r; i < length; ++i) border.push_back(reflect101(i - r, w));
    std::vector<const float*> a(static_cast<std::size_t>(r) + 1), b(a.size());
    for (int t = 1; t <= r; ++t) {
        a[t] = ext.data() + r - t;
        b[t] = ext.data() + r + t;
    }
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* in = pixels + static_cast<std::size_t>(y) * w;
        float* out = rows.data() + static_cast<std::size_t>(y) * w;
        if (binary) {
            for (int i = 0; i < r; ++i) bits[i] = in[border[i]] != 0;
            for (int x = 0; x < w; ++x) bits[r + x] = in[x] != 0;
            for (int i = 0; i < r; ++i) bits[w + r + i] = in[border[r + i]] != 0;
            binary_row(bits.data(), length, cumulative, n, w, out);
            continue;
        }
        for (int i = 0; i < r; ++i) ext[i] = in[border[i]];
        for (int x = 0; x < w; ++x) ext[r + x] = in[x];
        for (int i = 0; i < r; ++i) ext[w + r + i] = in[border[r + i]];
        symmetric_sum(ext.data() + r, a.data(), b.data(), kf.data(), r, w, out);
    }
    std::vector<std::uint8_t> out(static_cast<std::size_t>(w) * h);
    std::vector<float> acc(static_cast<std::size_t>(w));
    for (int y = 0; y < h; ++y) {
        for (int t = 1; t <= r; ++t) {
            a[t] = rows.data() + static_cast<std::size_t>(reflect101(y - t, h)) * w;
            b[t] = rows.data() + static_cast<std::size_t>(reflect101(y + t, h)) * w;
        }
        symmetric_sum(rows.data() + static_cast<std::size_t>(y) * w, a.data(), b.data(), kf.data(), r,
                      w, acc.data());
        std::uint8_t* o = out.data() + static_cast<std::size_t>(y) * w;
        for (int x = 0; x < w; ++x)
            o[x] = static_cast<std::uint8_t>(
                std::min<std::uint32_t>((static_cast<std::uint32_t>(acc[x]) + 32768u) >> 16, 255u));
    }
    return out;
}

int otsu_threshold(const std::uint8_t* pixels, std::size_t count) {
    std::array<int, 256> hist{};
    for (std::size_t i = 0; i < count; ++i) ++hist[pixels[i]];
    const double scale = 1. / static_cast<double>(count);
    double mu = 0;
    for (int i = 0; i < 256; ++i) mu += i * static_cast<double>(hist[i]);
    mu *= scale;
    double mu1 = 0, q1 = 0, max_sigma = 0;
    int max_val = 0;
    for (int i = 0; i < 256; ++i) {
        const double p = hist[i] * scale;
        mu1 *= q1;
        q1 += p;
        const double q2 = 1. - q1;
        if (std::min(q1, q2) < FLT_EPSILON || std::max(q1, q2) > 1. - FLT_EPSILON) continue;
        mu1 = (mu1 + i * p) / q1;
        const double mu2 = (mu - q1 * mu1) / q2;
        const double sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
        if (sigma > max_sigma) {
            max_sigma = sigma;
            max_val = i;
        }
    }
    return max_val;
}

Roi roi(const Grey& image) {
    const int w = image.width, h = image.height;
    const std::size_t n = image.pixels.size();
    Roi out;
    std::vector<std::uint8_t> eroded = erode5(image.pixels.data(), w, h);
    std::vector<std::uint8_t> blur = gaussian_blur(eroded.data(), w, h, 41);
    int t = otsu_threshold(blur.data(), n);
    for (auto& p : blur) p = p > t ? 255 : 0;
    std::vector<std::uint8_t> mask = gaussian_blur(blur.data(), w, h, 91, true);
    t = otsu_threshold(mask.data(), n);
    for (auto& p : mask) p = p > t ? 255 : 0;
    // Holes: background (255) not connected (4-connectivity) to the image's outermost pixels,
    // which cv::findContours treats as background whatever they hold; they become foreground.
    std::vector<Run> runs;
    const int background = runs_of(mask, w, h, 255, runs);
    std::vector<std::uint8_t> outside(static_cast<std::size_t>(background), 0);
    for (const Run& run : runs)
        if (run.y <= 1 || run.y >= h - 2 || run.x0 <= 1 || run.x1 >= w - 1) outside[run.part] = 1;
    for (const Run& run : runs)
        if (!outside[run.part]) paint(mask, w, run, 0);
    // Foreground components (4-connectivity, cv::floodFill's): only the first, in raster order,
    // of those with the largest bounding box is kept.
    const int parts = runs_of(mask, w, h, 0, runs);
    std::vector<std::array<int, 4>> box(static_cast<std::size_t>(parts), {w, h, -1, -1});
    for (const Run& run : runs) {
        auto& b = box[run.part];
        b[0] = std::min(b[0], run.x0);
        b[1] = std::min(b[1], run.y);
        b[2] = std::max(b[2], run.x1 - 1);
        b[3] = std::max(b[3], run.y);
    }
    int best = -1;
    long best_area = 0;
    for (int i = 0; i < parts; ++i) {
        const long area = static_cast<long>(box[i][2] - box[i][0] + 1) * (box[i][3] - box[i][1] + 1);
        if (area > best_area) {
            best_area = area;
            best = i;
        }
    }
    for (const Run& run : runs)
        if (run.part != best) paint(mask, w, run, 255);
    out.mask.assign(n, 0);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (mask[i] == 0) {
            out.mask[i] = 1;
            ++out.pixels;
            sum += image.pixels[i];
        }
    }
    out.mean = out.pixels > 0 ? sum / out.pixels : 255.0;
    // Coherence of each 32 x 32 block (partial at the edges) that holds a foreground pixel.
    for (int i = 0; i < h; i += kBlock) {
        for (int j = 0; j < w; j += kBlock) {
            const int bh = std::min(kBlock, h - i), bw = std::min(kBlock, w - j);
            bool any = false;
            for (int y = i; y < i + bh && !any; ++y)
                for (int x = j; x < j + bw; ++x)
                    if (out.mask[static_cast<std::size_t>(y) * w + x]) {
                        any = true;
                        break;
                    }
            if (!any) continue;
            ++out.blocks;
            out.coherence_sum += block_coherence(image, i, j, bw, bh);
        }
    }
    out.coherence_rel = out.blocks > 0 ? out.coherence_sum / out.blocks : 0.0;
    return out;
}

}  // namespace bqat::nfiq2
