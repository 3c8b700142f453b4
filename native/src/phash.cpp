#include "bqat/phash.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>
#include <utility>

namespace bqat {
namespace {

constexpr int kSide = 32;  // the hash reads the kSide x kSide box average
constexpr int kLow = 8;    // and the kLow x kLow lowest frequencies of its DCT

// How one axis of n source pixels covers the kSide output boxes, in 1/kSide-pixel units so that
// every weight is an integer: source pixel s spans [kSide s, kSide (s + 1)) and box o spans
// [o n, (o + 1) n). Ordered by box, then source pixel.
struct Cover {
    int box;
    int source;
    std::uint32_t weight;
};

std::vector<Cover> box_cover(int n) {
    std::vector<Cover> cover;
    for (int o = 0; o < kSide; ++o) {
        const std::int64_t begin = std::int64_t{o} * n, end = begin + n;
        for (std::int64_t s = begin / kSide; s * kSide < end; ++s) {
            const std::int64_t weight = std::min(end, (s + 1) * kSide) - std::max(begin, s * kSide);
            cover.push_back({o, static_cast<int>(s), static_cast<std::uint32_t>(weight)});
        }
    }
    return cover;
}

// The box means, row-major kSide x kSide. The sums of pixel x weight are exact integers and every
// box weighs H x W in all, so each mean is rounded once and a constant image averages to exactly
// its value.
std::array<double, kSide * kSide> box_average(const ImageView& image) {
    const auto rows = box_cover(image.height), cols = box_cover(image.width);
    const std::ptrdiff_t ps = image.pixel_stride;
    std::array<std::uint64_t, kSide * kSide> sums{};
    std::vector<std::uint32_t> column(image.width, 0);  // weighted column sums within a box row
    // A column sum is at most 255 x the weight taken in: it is folded into `sums` long before
    // that could pass 2^32.
    constexpr std::uint32_t fold_at = UINT32_MAX / 255 - kSide;
    std::uint32_t taken = 0;
    auto fold = [&](int box) {
        for (const auto& c : cols)
            sums[box * kSide + c.box] += std::uint64_t{c.weight} * column[c.source];
        std::fill(column.begin(), column.end(), 0u);
        taken = 0;
    };
    for (std::size_t t = 0; t < rows.size(); ++t) {
        const Cover& r = rows[t];
        const std::uint8_t* row = image.data + r.source * image.row_stride;
        if (ps == 1) {
            for (int x = 0; x < image.width; ++x) column[x] += r.weight * row[x];
        } else {
            for (int x = 0; x < image.width; ++x) column[x] += r.weight * row[x * ps];
        }
        taken += r.weight;
        if (taken > fold_at || t + 1 == rows.size() || rows[t + 1].box != r.box) fold(r.box);
    }
    std::array<double, kSide * kSide> means;
    const double area = static_cast<double>(image.height) * image.width;
    for (int i = 0; i < kSide * kSide; ++i) means[i] = static_cast<double>(sums[i]) / area;
    return means;
}

// 2 cos(pi k (2n + 1) / (2 kSide)) for the kLow lowest k and the first half of n: the folded
// sums in low_dct never need the second half.
using CosTable = std::array<std::array<double, kSide / 2>, kLow>;

CosTable cos_table() {
    const double pi = std::acos(-1.0);
    CosTable table;
    for (int k = 0; k < kLow; ++k)
        for (int n = 0; n < kSide / 2; ++n)
            table[k][n] = 2 * std::cos(pi * k * (2 * n + 1) / (2 * kSide));
    return table;
}

// out[k] = 2 sum_n x[n] cos(pi k (2n + 1) / (2 kSide)) for k < kLow, x read `step` apart.
// Basis vector k is symmetric about its middle when k is even and antisymmetric when odd, so x
// folds onto its first half: the differences of mirrored values finish the odd k, and their sums
// fold again for the rest (k / 2 odd, then k / 4 odd, then k = 0). That halves the work, and a
// constant x gives exact zeros for every k > 0, so flat images do not hash rounding noise.
void low_dct(const double* x, std::ptrdiff_t step, double* out, std::ptrdiff_t out_step) {
    static const CosTable table = cos_table();
    std::array<double, kSide> folded;
    for (int n = 0; n < kSide; ++n) folded[n] = x[n * step];
    int length = kSide;
    for (int stride = 1; stride < kLow; stride *= 2) {
        const int half = length / 2;
        std::array<double, kSide / 2> difference;
        for (int n = 0; n < half; ++n) {
            difference[n] = folded[n] - folded[length - 1 - n];
            folded[n] += folded[length - 1 - n];
        }
        for (int k = stride; k < kLow; k += 2 * stride) {
            double sum = 0;
            for (int n = 0; n < half; ++n) sum += table[k][n] * difference[n];
            out[k * out_step] = sum;
        }
        length = half;
    }
    double sum = 0;
    for (int n = 0; n < length; ++n) sum += folded[n];
    out[0] = 2 * sum;
}

// max_distance + 1 disjoint masks of near-equal width covering the 64 bits.
std::vector<std::uint64_t> chunk_masks(int chunks) {
    std::vector<std::uint64_t> masks;
    int shift = 0;
    for (int t = 0; t < chunks; ++t) {
        const int width = 64 / chunks + (t < 64 % chunks ? 1 : 0);
        masks.push_back((width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1) << shift);
        shift += width;
    }
    return masks;
}

// Two unique values (indices into the sorted values) within max_distance bits.
struct Match {
    std::size_t a;
    std::size_t b;
    int distance;
};

// The scan below is popcount-bound; x86-64 builds get a clone with the popcnt instruction as
// well, chosen when the module loads.
#if defined(__x86_64__) && defined(__GNUC__)
#define BQAT_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define BQAT_POPCNT_CLONES
#endif

// Appends the pairs of `values` within max_distance bits that agree on chunk masks[t] and on no
// earlier chunk, so that each close pair comes from the first chunk it agrees on, once.
BQAT_POPCNT_CLONES
void chunk_matches(const std::vector<std::uint64_t>& values, const std::vector<std::uint64_t>& masks,
                   std::size_t t, int max_distance, std::vector<Match>& matches) {
    std::vector<std::pair<std::uint64_t, std::size_t>> keyed(values.size());
    for (std::size_t u = 0; u < values.size(); ++u) keyed[u] = {values[u] & masks[t], u};
    std::sort(keyed.begin(), keyed.end());
    std::vector<std::uint64_t> bucketed(values.size());  // the values in bucket order, scanned below
    for (std::size_t x = 0; x < keyed.size(); ++x) bucketed[x] = values[keyed[x].second];
    for (std::size_t start = 0, end = 0; start < keyed.size(); start = end) {
        while (end < keyed.size() && keyed[end].first == keyed[start].first) ++end;
        for (auto x = start; x < end; ++x)
            for (auto y = x + 1; y < end; ++y) {
                const std::uint64_t diff = bucketed[x] ^ bucketed[y];
                const int distance = __builtin_popcountll(diff);
                if (distance > max_distance) continue;
                const auto agrees = [diff](std::uint64_t m) { return (diff & m) == 0; };
                const bool found_before = std::any_of(masks.begin(), masks.begin() + t, agrees);
                if (!found_before) matches.push_back({keyed[x].second, keyed[y].second, distance});
            }
    }
}

struct Pair {
    std::int64_t first;
    std::int64_t second;
    std::uint8_t distance;
};

}  // namespace

std::uint64_t phash(const ImageView& image) {
    const auto means = box_average(image);
    std::array<double, kSide * kLow> rows;  // the low horizontal frequencies of each row
    for (int r = 0; r < kSide; ++r) low_dct(&means[r * kSide], 1, &rows[r * kLow], 1);
    std::array<double, kLow * kLow> low;  // row-major: vertical, then horizontal frequency
    for (int c = 0; c < kLow; ++c) low_dct(&rows[c], kLow, &low[c], kLow);
    auto sorted = low;
    std::sort(sorted.begin(), sorted.end());
    const double median = (sorted[kLow * kLow / 2 - 1] + sorted[kLow * kLow / 2]) / 2;
    std::uint64_t hash = 0;
    for (int i = 0; i < kLow * kLow; ++i)
        if (low[i] > median) hash |= std::uint64_t{1} << (kLow * kLow - 1 - i);
    return hash;
}

NearPairs near_pairs(const HashView& hashes, int max_distance) {
    // Equal hashes are collapsed first, so a value held n times costs n in the search, not n^2:
    // `order` lists (value, position) by value, and unique value u owns order[begin[u], begin[u + 1]).
    std::vector<std::pair<std::uint64_t, std::int64_t>> order(hashes.count);
    for (std::size_t i = 0; i < hashes.count; ++i) order[i] = {hashes[i], static_cast<std::int64_t>(i)};
    std::sort(order.begin(), order.end());
    std::vector<std::uint64_t> values;
    std::vector<std::size_t> begin;
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (i > 0 && order[i].first == order[i - 1].first) continue;
        values.push_back(order[i].first);
        begin.push_back(i);
    }
    begin.push_back(order.size());

    // Two values within max_distance bits agree on at least one of max_distance + 1 chunks.
    const auto masks = chunk_masks(max_distance + 1);
    std::vector<Match> matches;
    for (std::size_t t = 0; t < masks.size(); ++t)
        chunk_matches(values, masks, t, max_distance, matches);

    // Every position pairs with the others holding its value, and with those holding a match.
    std::vector<Pair> pairs;
    for (std::size_t u = 0; u < values.size(); ++u)
        for (auto p = begin[u]; p < begin[u + 1]; ++p)
            for (auto q = p + 1; q < begin[u + 1]; ++q)
                pairs.push_back({order[p].second, order[q].second, 0});
    for (const auto& m : matches)
        for (auto p = begin[m.a]; p < begin[m.a + 1]; ++p)
            for (auto q = begin[m.b]; q < begin[m.b + 1]; ++q) {
                const auto i = order[p].second, j = order[q].second;
                pairs.push_back({std::min(i, j), std::max(i, j), static_cast<std::uint8_t>(m.distance)});
            }

    std::sort(pairs.begin(), pairs.end(), [](const Pair& l, const Pair& r) {
        return std::tie(l.first, l.second) < std::tie(r.first, r.second);
    });
    NearPairs result;
    result.first.reserve(pairs.size());
    result.second.reserve(pairs.size());
    result.distance.reserve(pairs.size());
    for (const auto& p : pairs) {
        result.first.push_back(p.first);
        result.second.push_back(p.second);
        result.distance.push_back(p.distance);
    }
    return result;
}

}  // namespace bqat
