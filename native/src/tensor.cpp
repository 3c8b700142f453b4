#include "bqat/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace bqat {
namespace {

// Byte offsets of the three source channels feeding output channels 0, 1, 2. Grey images read
// their one channel three times; a fourth (alpha) channel is never read.
std::array<std::ptrdiff_t, 3> channel_offsets(const ImageView& image, bool swap_rb) {
    const std::ptrdiff_t cs = image.channels >= 3 ? image.channel_stride : 0;
    if (swap_rb) return {2 * cs, cs, 0};
    return {0, cs, 2 * cs};
}

// Writes one output pixel's three values, normalised, at (y, x) in the requested layout.
struct PixelWriter {
    const TensorSpec& spec;
    const TensorOut& out;
    std::array<float, 3> inv_std;
    std::size_t plane;

    PixelWriter(const TensorSpec& s, const TensorOut& o)
        : spec(s), out(o), plane(static_cast<std::size_t>(o.height) * o.width) {
        for (int c = 0; c < 3; ++c) inv_std[c] = 1.0f / s.std[c];
    }

    float normalise(int c, float value) const { return (value - spec.mean[c]) * inv_std[c]; }

    // Writes output row y from two planar rows (3 planes of `count`): upper + (lower - upper) * w.
    void blend_row(int y, int count, const float* upper, const float* lower, float w) const {
        const std::size_t row = static_cast<std::size_t>(y) * out.width;
        for (int c = 0; c < 3; ++c) {
            const float* u = upper + c * count;
            const float* l = lower + c * count;
            const float m = spec.mean[c], k = inv_std[c];
            if (spec.layout == Layout::NCHW) {
                float* dst = out.data + c * plane + row;
                for (int x = 0; x < count; ++x) dst[x] = (u[x] + (l[x] - u[x]) * w - m) * k;
            } else {
                float* dst = out.data + row * 3 + c;
                for (int x = 0; x < count; ++x) dst[x * 3] = (u[x] + (l[x] - u[x]) * w - m) * k;
            }
        }
    }

    void fill_row(int y, int x_begin, int x_end, float pixel_value) const {
        if (x_begin >= x_end) return;
        const std::size_t row = static_cast<std::size_t>(y) * out.width;
        for (int c = 0; c < 3; ++c) {
            const float v = normalise(c, pixel_value);
            if (spec.layout == Layout::NCHW) {
                std::fill(out.data + c * plane + row + x_begin, out.data + c * plane + row + x_end, v);
            } else {
                for (int x = x_begin; x < x_end; ++x) out.data[(row + x) * 3 + c] = v;
            }
        }
    }
};

// Source tap and weight of one output coordinate under cv2.INTER_LINEAR's half-pixel mapping.
struct Tap {
    int index;
    int next;
    float weight;
};

std::vector<Tap> linear_taps(int out_size, int in_size) {
    std::vector<Tap> taps(out_size);
    const double ratio = static_cast<double>(in_size) / out_size;
    for (int i = 0; i < out_size; ++i) {
        const double f = (i + 0.5) * ratio - 0.5;
        int s = static_cast<int>(std::floor(f));
        double w = f - s;
        if (s < 0) s = 0, w = 0;
        if (s >= in_size - 1) s = in_size - 1, w = 0;
        taps[i] = {s, std::min(s + 1, in_size - 1), static_cast<float>(w)};
    }
    return taps;
}

// Horizontal pass of one source row into three channel planes of out_width floats each.
void interpolate_row(const ImageView& image, const std::array<std::ptrdiff_t, 3>& ch, int y,
                     const std::vector<std::ptrdiff_t>& first, const std::vector<std::ptrdiff_t>& second,
                     const std::vector<float>& weight, float* planes) {
    const std::uint8_t* row = image.data + y * image.row_stride;
    const std::size_t n = weight.size();
    const std::ptrdiff_t c0 = ch[0], c1 = ch[1], c2 = ch[2];
    float* p0 = planes;
    float* p1 = planes + n;
    float* p2 = planes + 2 * n;
    for (std::size_t x = 0; x < n; ++x) {
        const std::uint8_t* a = row + first[x];
        const std::uint8_t* b = row + second[x];
        const float w = weight[x];
        const float a0 = a[c0], a1 = a[c1], a2 = a[c2];
        p0[x] = a0 + (b[c0] - a0) * w;
        p1[x] = a1 + (b[c1] - a1) * w;
        p2[x] = a2 + (b[c2] - a2) * w;
    }
}

// The first bilinear tap of coordinate v and its weight, with v clamped to [-2, limit] first
// (a NaN, from an overflowed coordinate, goes to -2). Clamping keeps far-away taps from
// overflowing the int and their weight finite and within [0, 1); both taps of a clamped
// coordinate lie outside the image, so the sample is the border. No libm call (std::floor is
// one on baseline x86-64).
struct Tap1D {
    int index;
    float weight;
};

inline Tap1D floor_clamped(double v, int limit) {
    const double c = v >= -2.0 ? std::min(v, static_cast<double>(limit)) : -2.0;
    const int t = static_cast<int>(c);
    const int index = t - (c < t);
    return {index, static_cast<float>(c - index)};
}

// v as an index bound in [lo, hi]: ceil(v) clamped, with NaN going to lo.
inline int ceil_clamped(double v, int lo, int hi) {
    if (!(v > lo)) return lo;
    if (v >= hi) return hi;
    return static_cast<int>(std::ceil(v));
}

// Narrows [begin, end) towards the x with 0 <= slope * x + offset < limit - 1, i.e. those whose
// two bilinear taps along this axis lie inside [0, limit). Exact up to rounding, so the caller
// checks the ends of the result.
void narrow_to_inside(double slope, double offset, int limit, int& begin, int& end) {
    double lo = -offset, hi = limit - 1 - offset;
    if (slope == 0) {
        if (!(lo <= 0 && 0 < hi)) end = begin;
        return;
    }
    lo /= slope, hi /= slope;
    if (slope < 0) std::swap(lo, hi);
    begin = ceil_clamped(lo, begin, end);
    end = ceil_clamped(hi, begin, end);
}

}  // namespace

double letterbox(const ImageView& image, const TensorSpec& spec, float pad, const TensorOut& out) {
    const double scale = std::min(static_cast<double>(out.width) / image.width,
                                  static_cast<double>(out.height) / image.height);
    const int nw = std::clamp(static_cast<int>(std::floor(image.width * scale + 0.5)), 1, out.width);
    const int nh = std::clamp(static_cast<int>(std::floor(image.height * scale + 0.5)), 1, out.height);
    const auto x_taps = linear_taps(nw, image.width);
    const auto y_taps = linear_taps(nh, image.height);
    std::vector<std::ptrdiff_t> first(nw), second(nw);
    std::vector<float> weight(nw);
    for (int x = 0; x < nw; ++x) {
        first[x] = x_taps[x].index * image.pixel_stride;
        second[x] = x_taps[x].next * image.pixel_stride;
        weight[x] = x_taps[x].weight;
    }
    const auto ch = channel_offsets(image, spec.swap_rb);
    const PixelWriter writer(spec, out);

    // Horizontal pass into two cached source rows (planar), then one vertical blend per output
    // row that normalises and writes in the same loop.
    std::vector<float> upper(nw * 3), lower(nw * 3);
    int upper_y = -1, lower_y = -1;
    for (int y = 0; y < nh; ++y) {
        const Tap& t = y_taps[y];
        if (t.index != upper_y) {
            if (t.index == lower_y) {
                std::swap(upper, lower);
                std::swap(upper_y, lower_y);
            } else {
                interpolate_row(image, ch, t.index, first, second, weight, upper.data());
                upper_y = t.index;
            }
        }
        if (t.next != lower_y) {
            interpolate_row(image, ch, t.next, first, second, weight, lower.data());
            lower_y = t.next;
        }
        writer.blend_row(y, nw, upper.data(), lower.data(), t.weight);
        writer.fill_row(y, nw, out.width, pad);
    }
    for (int y = nh; y < out.height; ++y) writer.fill_row(y, 0, out.width, pad);
    return scale;
}

void warp_crop(const ImageView& image, const double inverse[6], const TensorSpec& spec,
               float border, const TensorOut& out) {
    const auto ch = channel_offsets(image, spec.swap_rb);
    const std::ptrdiff_t ps = image.pixel_stride, rs = image.row_stride;
    const int width = image.width, height = image.height;
    // Along output row y the source coordinates are (a x + bx, d x + by).
    const double a = inverse[0], d = inverse[3];
    const PixelWriter writer(spec, out);
    // Output channel c of pixel x of a row y lies at row + c * channel_step + x * step.
    const bool nchw = spec.layout == Layout::NCHW;
    const std::ptrdiff_t step = nchw ? 1 : 3;
    const std::ptrdiff_t channel_step = nchw ? static_cast<std::ptrdiff_t>(writer.plane) : 1;

    // Any pixel: each tap is checked and reads `border` when outside the image.
    auto tap = [&](int tx, int ty, std::ptrdiff_t c) -> float {
        const bool inside = tx >= 0 && tx < width && ty >= 0 && ty < height;
        return inside ? static_cast<float>(image.pixel(ty, tx)[c]) : border;
    };
    auto general = [&](float* row, int x, double sx, double sy) {
        const auto [x0, wx] = floor_clamped(sx, width);
        const auto [y0, wy] = floor_clamped(sy, height);
        for (int c = 0; c < 3; ++c) {
            const float p00 = tap(x0, y0, ch[c]), p10 = tap(x0 + 1, y0, ch[c]);
            const float p01 = tap(x0, y0 + 1, ch[c]), p11 = tap(x0 + 1, y0 + 1, ch[c]);
            const float top = p00 + (p10 - p00) * wx;
            const float bottom = p01 + (p11 - p01) * wx;
            row[c * channel_step + x * step] = writer.normalise(c, top + (bottom - top) * wy);
        }
    };

    // Pixels whose four taps all lie inside the image go in chunks: gather the taps into
    // planes, then blend, normalise and store in loops the compiler vectorises.
    constexpr int kChunk = 64;
    alignas(16) std::uint8_t taps[3][4][kChunk];
    alignas(16) float wx[kChunk], wy[kChunk], planes[3][kChunk];
    auto inside_chunk = [&](float* row, int x_begin, int count, double bx, double by) {
        for (int i = 0; i < count; ++i) {
            const double sx = a * (x_begin + i) + bx, sy = d * (x_begin + i) + by;
            const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);  // floor, as >= 0
            wx[i] = static_cast<float>(sx - x0);
            wy[i] = static_cast<float>(sy - y0);
            const std::uint8_t* upper = image.pixel(y0, x0);
            const std::uint8_t* lower = upper + rs;
            for (int c = 0; c < 3; ++c) {
                taps[c][0][i] = upper[ch[c]];
                taps[c][1][i] = upper[ch[c] + ps];
                taps[c][2][i] = lower[ch[c]];
                taps[c][3][i] = lower[ch[c] + ps];
            }
        }
        for (int c = 0; c < 3; ++c) {
            const std::uint8_t *p00 = taps[c][0], *p10 = taps[c][1];
            const std::uint8_t *p01 = taps[c][2], *p11 = taps[c][3];
            const float m = spec.mean[c], k = writer.inv_std[c];
            float* dst = nchw ? row + c * channel_step + x_begin : planes[c];
            for (int i = 0; i < count; ++i) {
                const float top = p00[i] + (p10[i] - p00[i]) * wx[i];
                const float bottom = p01[i] + (p11[i] - p01[i]) * wx[i];
                dst[i] = (top + (bottom - top) * wy[i] - m) * k;
            }
        }
        if (!nchw) {
            float* dst = row + 3 * x_begin;
            for (int i = 0; i < count; ++i) {
                dst[3 * i] = planes[0][i];
                dst[3 * i + 1] = planes[1][i];
                dst[3 * i + 2] = planes[2][i];
            }
        }
    };

    for (int y = 0; y < out.height; ++y) {
        float* const row = out.data + static_cast<std::size_t>(y) * out.width * step;
        const double bx = inverse[1] * y + inverse[2], by = inverse[4] * y + inverse[5];
        auto all_taps_inside = [&](int x) {
            const double sx = a * x + bx, sy = d * x + by;
            return sx >= 0 && sx < width - 1 && sy >= 0 && sy < height - 1;
        };
        // Those pixels form one run [begin, end) of the row, as the source coordinates are
        // monotonic in x (rounding included): estimate it, then trim it until both ends check.
        int begin = 0, end = out.width;
        narrow_to_inside(a, bx, width, begin, end);
        narrow_to_inside(d, by, height, begin, end);
        while (begin < end && !all_taps_inside(begin)) ++begin;
        while (end > begin && !all_taps_inside(end - 1)) --end;

        for (int x = 0; x < begin; ++x) general(row, x, a * x + bx, d * x + by);
        for (int x = begin; x < end; x += kChunk)
            inside_chunk(row, x, std::min(kChunk, end - x), bx, by);
        for (int x = end; x < out.width; ++x) general(row, x, a * x + bx, d * x + by);
    }
}

}  // namespace bqat
