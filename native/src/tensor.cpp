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

    // Writes output row y from one planar row (3 planes of `count`).
    void write_row(int y, int count, const float* planes) const {
        blend_row(y, count, planes, planes, 0.0f);
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

// floor(v) clamped to [-2, limit], without a libm call (std::floor is one on baseline x86-64).
// Clamping first keeps far-away taps from overflowing the int; their weights then do not matter
// because every tap lies outside the image and reads the border.
inline int floor_clamped(double v, int limit) {
    const double c = std::clamp(v, -2.0, static_cast<double>(limit));
    const int t = static_cast<int>(c);
    return t - (c < t);
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
    const PixelWriter writer(spec, out);
    const std::size_t n = out.width;
    std::vector<float> row(n * 3);
    const std::ptrdiff_t ps = image.pixel_stride, rs = image.row_stride;
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            const double sx = inverse[0] * x + inverse[1] * y + inverse[2];
            const double sy = inverse[3] * x + inverse[4] * y + inverse[5];
            const int x0 = floor_clamped(sx, image.width), y0 = floor_clamped(sy, image.height);
            const float wx = static_cast<float>(sx - x0), wy = static_cast<float>(sy - y0);
            float p[4][3];
            if (x0 >= 0 && y0 >= 0 && x0 + 1 < image.width && y0 + 1 < image.height) {
                const std::uint8_t* a = image.pixel(y0, x0);
                const std::uint8_t* corners[4] = {a, a + ps, a + rs, a + rs + ps};
                for (int k = 0; k < 4; ++k)
                    for (int c = 0; c < 3; ++c) p[k][c] = corners[k][ch[c]];
            } else {
                for (int k = 0; k < 4; ++k) {
                    const int tx = x0 + (k & 1), ty = y0 + (k >> 1);
                    const bool inside = tx >= 0 && tx < image.width && ty >= 0 && ty < image.height;
                    for (int c = 0; c < 3; ++c)
                        p[k][c] = inside ? static_cast<float>(image.pixel(ty, tx)[ch[c]]) : border;
                }
            }
            for (int c = 0; c < 3; ++c) {
                const float top = p[0][c] + (p[1][c] - p[0][c]) * wx;
                const float bottom = p[2][c] + (p[3][c] - p[2][c]) * wx;
                row[c * n + x] = top + (bottom - top) * wy;
            }
        }
        writer.write_row(y, out.width, row.data());
    }
}

}  // namespace bqat
