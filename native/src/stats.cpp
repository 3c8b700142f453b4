#include "bqat/stats.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace bqat {
namespace {

// cv2.BORDER_REFLECT_101 for one step outside [0, n): -1 -> 1, n -> n - 2 (n == 1 -> 0).
int reflect101(int i, int n) {
    if (n == 1) return 0;
    if (i < 0) return 1;
    if (i >= n) return n - 2;
    return i;
}

struct Histogram {
    std::array<std::uint64_t, 256> counts{};
    std::uint64_t total = 0;

    double mean() const {
        double sum = 0;
        for (int v = 0; v < 256; ++v) sum += static_cast<double>(v) * counts[v];
        return sum / total;
    }

    double std(double mean) const {
        double sum = 0;
        for (int v = 0; v < 256; ++v) sum += counts[v] * (v - mean) * (v - mean);
        return std::sqrt(sum / total);
    }

    double entropy() const {
        double bits = 0;
        for (auto c : counts) {
            if (c == 0) continue;
            const double p = static_cast<double>(c) / total;
            bits -= p * std::log2(p);
        }
        return bits;
    }

    // Mean of the k brightest minus mean of the k darkest values, k = max(1, floor(total / 100)).
    double dynamic_range() const {
        const std::uint64_t k = std::max<std::uint64_t>(1, total / 100);
        auto extreme_sum = [&](int start, int step) {
            std::uint64_t left = k;
            double sum = 0;
            for (int v = start; left > 0; v += step) {
                const std::uint64_t take = std::min(left, counts[v]);
                sum += static_cast<double>(take) * v;
                left -= take;
            }
            return sum;
        };
        return (extreme_sum(255, -1) - extreme_sum(0, 1)) / static_cast<double>(k);
    }
};

}  // namespace

GreyStats grey_stats(const ImageView& image, int block) {
    const int h = image.height, w = image.width;
    // A block larger than the image tiles it like one of the image's size (a single tile per
    // row or column); clamping keeps the tile arithmetic below from overflowing the int.
    block = std::min(block, std::max(h, w));
    const std::ptrdiff_t ps = image.pixel_stride;
    const int tiles_x = (w + block - 1) / block;
    // Four interleaved histograms avoid stalls on repeated increments of one bin.
    std::vector<std::array<std::uint32_t, 256>> partial(4, std::array<std::uint32_t, 256>{});
    Histogram hist;
    std::int64_t lap_sum = 0, lap_sq = 0;
    std::vector<std::uint64_t> tile_sums(tiles_x, 0);
    std::vector<double> tile_means;
    std::vector<int> lap_row(w);
    std::uint64_t pending = 0;

    auto flush_partial = [&]() {
        for (auto& p : partial)
            for (int v = 0; v < 256; ++v) hist.counts[v] += p[v], p[v] = 0;
    };

    for (int y = 0; y < h; ++y) {
        const std::uint8_t* up = image.data + reflect101(y - 1, h) * image.row_stride;
        const std::uint8_t* cur = image.data + y * image.row_stride;
        const std::uint8_t* down = image.data + reflect101(y + 1, h) * image.row_stride;

        int x = 0;
        for (; x + 4 <= w; x += 4) {
            ++partial[0][cur[x * ps]];
            ++partial[1][cur[(x + 1) * ps]];
            ++partial[2][cur[(x + 2) * ps]];
            ++partial[3][cur[(x + 3) * ps]];
        }
        for (; x < w; ++x) ++partial[0][cur[x * ps]];

        auto laplacian = [&](int i, int left, int right) {
            return int(up[i * ps]) + down[i * ps] + cur[left * ps] + cur[right * ps] - 4 * int(cur[i * ps]);
        };
        lap_row[0] = laplacian(0, reflect101(-1, w), reflect101(1, w));
        if (w > 1) lap_row[w - 1] = laplacian(w - 1, reflect101(w - 2, w), reflect101(w, w));
        if (ps == 1) {
            for (int i = 1; i < w - 1; ++i)
                lap_row[i] = int(up[i]) + down[i] + cur[i - 1] + cur[i + 1] - 4 * int(cur[i]);
        } else {
            for (int i = 1; i < w - 1; ++i) lap_row[i] = laplacian(i, i - 1, i + 1);
        }
        std::int64_t row_sum = 0, row_sq = 0;
        for (int i = 0; i < w; ++i) row_sum += lap_row[i], row_sq += lap_row[i] * lap_row[i];
        lap_sum += row_sum;
        lap_sq += row_sq;

        for (int t = 0; t < tiles_x; ++t) {
            const int end = std::min(w, (t + 1) * block);
            std::uint32_t sum = 0;
            for (int i = t * block; i < end; ++i) sum += cur[i * ps];
            tile_sums[t] += sum;
        }
        const bool tile_row_done = (y + 1) % block == 0 || y + 1 == h;
        if (tile_row_done) {
            const int rows = y % block + 1;
            for (int t = 0; t < tiles_x; ++t) {
                const int cols = std::min(w, (t + 1) * block) - t * block;
                tile_means.push_back(static_cast<double>(tile_sums[t]) / (static_cast<double>(rows) * cols));
                tile_sums[t] = 0;
            }
        }
        // The uint32 partial counts are flushed long before any of them could overflow.
        pending += static_cast<std::uint64_t>(w);
        if (pending >= (1ull << 31)) flush_partial(), pending = 0;
    }
    flush_partial();
    hist.total = static_cast<std::uint64_t>(h) * w;

    GreyStats s;
    s.mean = hist.mean();
    s.std = hist.std(s.mean);
    s.entropy = hist.entropy();
    s.dynamic_range = hist.dynamic_range();
    const double n = static_cast<double>(hist.total);
    const double lap_mean = static_cast<double>(lap_sum) / n;
    s.laplacian_variance = std::max(0.0, static_cast<double>(lap_sq) / n - lap_mean * lap_mean);
    double tm = 0;
    for (double m : tile_means) tm += m;
    tm /= tile_means.size();
    double tv = 0;
    for (double m : tile_means) tv += (m - tm) * (m - tm);
    s.block_mean_std = std::sqrt(tv / tile_means.size());
    return s;
}

}  // namespace bqat
