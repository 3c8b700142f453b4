// WSQ encoding (see bqat/wsq.hpp): normalise, decompose into the 64 subbands, measure their
// variances, set bin widths for the bit rate, quantise, and write the Huffman-coded blocks with
// the tables a decoder needs.
#include "bqat/wsq.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <queue>
#include <string>
#include <utility>

namespace bqat::wsq {
namespace {

// ----------------------------------------------------------------------------- filter bank

// The standard's analysis filters, centre tap first (both are symmetric): 9-tap low-pass and
// 7-tap high-pass. The file's transform table carries them in this order.
constexpr std::array<double, 5> kLowTaps = {0.85269867900940344, 0.37740285561265380,
                                            -0.11062440441842342, -0.02384946501938000,
                                            0.03782845550699546};
constexpr std::array<double, 4> kHighTaps = {0.78848561640566439, -0.41809227322221221,
                                             -0.04068941760955844, 0.06453888262893845};
constexpr int kReach = 4;   // samples of extension each side: half the longer filter
constexpr int kLanes = 16;  // lines filtered together, so that the taps vectorise across lines

// Index of sample i of an n-sample line under whole-sample symmetric extension.
int mirrored(int i, int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

// Splits `count` lines of n samples in place; sample i of line j is at
// data[j * line_step + i * sample_step]. Each group of kLanes lines is copied, extended, into
// `line` (sample-major, lanes minor), filtered into `out`, then written back.
void split_lines(float* data, int n, int count, std::ptrdiff_t sample_step,
                 std::ptrdiff_t line_step, bool inverted) {
    const int lows = (n + 1) / 2;
    const int highs = n / 2;
    constexpr float l0 = static_cast<float>(kLowTaps[0]), l1 = static_cast<float>(kLowTaps[1]),
                    l2 = static_cast<float>(kLowTaps[2]), l3 = static_cast<float>(kLowTaps[3]),
                    l4 = static_cast<float>(kLowTaps[4]);
    constexpr float h0 = static_cast<float>(kHighTaps[0]), h1 = static_cast<float>(kHighTaps[1]),
                    h2 = static_cast<float>(kHighTaps[2]), h3 = static_cast<float>(kHighTaps[3]);
    constexpr int s = kLanes;
    std::vector<float> line(static_cast<std::size_t>(n + 2 * kReach) * s, 0.0f);
    std::vector<float> out(static_cast<std::size_t>(n) * s);
    for (int first = 0; first < count; first += s) {
        const int lanes = std::min(s, count - first);
        float* base = data + first * line_step;
        for (int i = -kReach; i < n + kReach; ++i) {
            const float* from = base + mirrored(i, n) * sample_step;
            float* to = &line[static_cast<std::size_t>(i + kReach) * s];
            for (int l = 0; l < lanes; ++l) to[l] = from[l * line_step];
        }
        for (int k = 0; k < lows; ++k) {
            const float* c = &line[static_cast<std::size_t>(2 * k + kReach) * s];
            float* o = &out[static_cast<std::size_t>(k) * s];
            for (int l = 0; l < s; ++l)
                o[l] = l0 * c[l] + l1 * (c[l - s] + c[l + s]) + l2 * (c[l - 2 * s] + c[l + 2 * s]) +
                       l3 * (c[l - 3 * s] + c[l + 3 * s]) + l4 * (c[l - 4 * s] + c[l + 4 * s]);
        }
        for (int k = 0; k < highs; ++k) {
            const float* c = &line[static_cast<std::size_t>(2 * k + 1 + kReach) * s];
            float* o = &out[static_cast<std::size_t>(lows + k) * s];
            for (int l = 0; l < s; ++l)
                o[l] = h0 * c[l] + h1 * (c[l - s] + c[l + s]) + h2 * (c[l - 2 * s] + c[l + 2 * s]) +
                       h3 * (c[l - 3 * s] + c[l + 3 * s]);
        }
        for (int k = 0; k < n; ++k) {
            const int low_at = inverted ? highs : 0, high_at = inverted ? 0 : lows;
            const int position = k < lows ? low_at + k : high_at + k - lows;
            float* to = base + position * sample_step;
            const float* from = &out[static_cast<std::size_t>(k) * s];
            for (int l = 0; l < lanes; ++l) to[l * line_step] = from[l];
        }
    }
}

// ------------------------------------------------------------------------ decomposition tree

constexpr int kCoded = 60;  // subbands 60-63 (the first level's diagonal quarter) are not coded
// First subband of blocks 2 and 3 (block 1 is the lowest frequencies, coded with table 0; blocks
// 2 and 3 share table 1).
constexpr int kBlockStart[4] = {0, 19, 52, kCoded};
constexpr int kSmallestSplit = 4;  // NBIS's synthesis needs two low and two high samples

// A rectangle of the coefficient plane, and whether its own split is inverted on each axis.
struct Band {
    int x = 0, y = 0, width = 0, height = 0;
    bool invert_x = false, invert_y = false;
};

struct Tree {
    std::vector<Band> splits;    // parents before children: the order of the analysis
    std::vector<Band> subbands;  // the 60 coded subbands, in the standard's numbering
};

// The standard's decomposition in prefix form: S splits a band into its quarters (top-left,
// top-right, bottom-left, bottom-right; each then described in turn), L is a coded subband, D a
// quarter neither split nor coded. Reading the leaves in order numbers the subbands 0-59.
const std::string& shape() {
    static const std::string described = [] {
        const std::string quartered = "SLLLL";                       // 4 subbands
        const std::string lowest = "S" + quartered + "LLL";          // 7: the fifth level
        const std::string low = "S" + lowest + quartered + quartered + quartered;  // 0-18
        const std::string middle = "S" + quartered + quartered + quartered + quartered;  // 16
        const std::string first_quarter = "S" + low + middle + middle + "L";  // 0-51
        return "S" + first_quarter + quartered + quartered + "D";  // 52-55, 56-59, dropped
    }();
    return described;
}

// A quarter is split with the axis inverted (high-pass half first) where it is its parent's
// right (x) or bottom (y) quarter, whatever the parent's own order: the standard's tree. Its low
// half takes the extra sample of an odd length.
void grow(const char*& at, const Band& band, Tree& tree) {
    const char kind = *at++;
    if (kind == 'L') tree.subbands.push_back(band);
    if (kind != 'S') return;
    tree.splits.push_back(band);
    const int left = band.invert_x ? band.width / 2 : (band.width + 1) / 2;
    const int top = band.invert_y ? band.height / 2 : (band.height + 1) / 2;
    for (int quarter = 0; quarter < 4; ++quarter) {
        const bool right = quarter & 1, bottom = quarter & 2;
        Band child;
        child.x = band.x + (right ? left : 0);
        child.y = band.y + (bottom ? top : 0);
        child.width = right ? band.width - left : left;
        child.height = bottom ? band.height - top : top;
        child.invert_x = right;
        child.invert_y = bottom;
        grow(at, child, tree);
    }
}

Tree tree_of(int width, int height) {
    Tree tree;
    const char* at = shape().c_str();
    grow(at, Band{0, 0, width, height, false, false}, tree);
    for (const Band& b : tree.splits)
        if (b.width < kSmallestSplit || b.height < kSmallestSplit)
            throw NativeError("wsq_encode: internal error: a " + std::to_string(b.width) + " x " +
                              std::to_string(b.height) + " band would be split");
    return tree;
}

// --------------------------------------------------------------------- header number formats

// A non-negative value as the tables store it: value / 10^exponent, value 16 or 32 bits, with
// the largest exponent that fits (the most significant digits).
struct Scaled {
    std::uint8_t exponent = 0;
    std::uint32_t value = 0;

    double number() const { return value / std::pow(10.0, exponent); }
};

Scaled scaled(double v, double limit) {
    Scaled s;
    if (!(v > 0.0)) return s;
    double digits = v;
    while (s.exponent < 60 && std::llround(digits * 10.0) <= limit) {
        digits *= 10.0;
        ++s.exponent;
    }
    s.value = static_cast<std::uint32_t>(std::llround(digits));
    return s;
}

Scaled scaled16(double v) { return scaled(v, 65535.0); }

// -------------------------------------------------------------------------------- statistics

double variance_of(const std::vector<float>& c, int width, int x0, int y0, int w, int h) {
    double sum = 0.0, squares = 0.0;
    for (int y = y0; y < y0 + h; ++y) {
        const float* row = &c[static_cast<std::size_t>(y) * width + x0];
        for (int x = 0; x < w; ++x) {
            sum += row[x];
            squares += static_cast<double>(row[x]) * row[x];
        }
    }
    const double n = static_cast<double>(w) * h;
    return (squares - sum * sum / n) / (n - 1.0);
}

// Each subband's variance over its central region (x from w/8 over 3w/4, y from 9h/32 over
// 7h/16: away from the card margins), or over the whole subband when the four lowest subbands
// together vary by less than 20000 (a small or faint image, whose centre says too little) or the
// central region is under two samples. A one-sample subband has no variance (0: not coded).
std::array<double, kCoded> variances(const std::vector<float>& c, int width, const Tree& tree) {
    auto of = [&](const Band& b, bool central) {
        int x0 = b.x, y0 = b.y, w = b.width, h = b.height;
        if (central && (3 * w / 4) * (7 * h / 16) >= 2) {
            x0 += w / 8;
            y0 += 9 * h / 32;
            w = 3 * w / 4;
            h = 7 * h / 16;
        }
        return w * h >= 2 ? variance_of(c, width, x0, y0, w, h) : 0.0;
    };
    std::array<double, kCoded> result{};
    double lowest = 0.0;
    for (int k = 0; k < 4; ++k) lowest += result[k] = of(tree.subbands[k], true);
    const bool central = lowest >= 20000.0;
    for (int k = central ? 4 : 0; k < kCoded; ++k) result[k] = of(tree.subbands[k], central);
    return result;
}

std::array<float, kCoded> largest_magnitudes(const std::vector<float>& c, int width, const Tree& tree) {
    std::array<float, kCoded> result{};
    for (int k = 0; k < kCoded; ++k) {
        const Band& b = tree.subbands[k];
        float m = 0.0f;
        for (int y = b.y; y < b.y + b.height; ++y) {
            const float* row = &c[static_cast<std::size_t>(y) * width + b.x];
            for (int x = 0; x < b.width; ++x) m = std::max(m, std::fabs(row[x]));
        }
        result[k] = m;
    }
    return result;
}

// -------------------------------------------------------------------------------- bin widths

constexpr double kVarianceFloor = 1.01;  // subbands varying less are not coded

// The standard's bin widths Q_k for `bitrate`: relative widths 1 (subbands 0-3) and
// 10 / (A_k ln variance_k) (the others, A_k weighting eight diagonal subbands), scaled by 1/q with
// q = 2^(r/S - 1) / 2.5 / (prod (sigma_k / Q'_k)^(1/m_k))^(1/S), S = sum 1/m_k over the subbands
// kept, m_k the decimation of subband k (1024, 256 or 16). Subbands whose bin would exceed five
// standard deviations (no bits) leave the set and q is recomputed until none does. 0: not coded.
std::array<double, kCoded> standard_widths(const std::array<double, kCoded>& variance, double bitrate) {
    std::array<double, kCoded> weight{};
    weight.fill(1.0);
    const std::array<double, 8> diagonal = {1.32, 1.08, 1.42, 1.08, 1.32, 1.42, 1.08, 1.08};
    std::copy(diagonal.begin(), diagonal.end(), weight.begin() + 52);
    std::array<double, kCoded> relative{}, sigma{}, inverse_m{};
    std::vector<int> kept;
    for (int k = 0; k < kCoded; ++k) {
        inverse_m[k] = k < 4 ? 1.0 / 1024 : k < 51 ? 1.0 / 256 : 1.0 / 16;
        if (variance[k] < kVarianceFloor) continue;
        relative[k] = k < 4 ? 1.0 : 10.0 / (weight[k] * std::log(variance[k]));
        sigma[k] = std::sqrt(variance[k]);
        kept.push_back(k);
    }
    std::array<double, kCoded> width{};
    if (kept.empty()) return width;
    const std::vector<int> coded = kept;
    double q = 1.0;
    while (!kept.empty()) {
        double share = 0.0, log_product = 0.0;
        for (int k : kept) {
            share += inverse_m[k];
            log_product += inverse_m[k] * std::log(sigma[k] / relative[k]);
        }
        q = std::pow(2.0, bitrate / share - 1.0) / 2.5 / std::exp(log_product / share);
        std::vector<int> positive;
        for (int k : kept)
            if (relative[k] / q < 5.0 * sigma[k]) positive.push_back(k);
        if (positive.size() == kept.size()) break;
        kept = std::move(positive);
    }
    for (int k : coded) width[k] = relative[k] / q;
    return width;
}

// ------------------------------------------------------------------------------ quantisation

constexpr double kZeroBin = 1.2;        // zero bin Z_k = 1.2 Q_k
constexpr double kLargestWidth = 50000;  // Q and Z must fit the table's 16-bit fields
constexpr double kLargestIndex = 32000;  // decoders hold indices in 16-bit signed integers

struct Quantised {
    std::array<Scaled, kCoded> width{}, zero{};  // as written (value 0: subband not coded)
    std::vector<std::int16_t> indices;
    std::array<std::size_t, 4> block_at{};  // where each block's indices start (and the end)
};

// Quantises every subband with the standard widths times `factor`, as the file will state them
// (rounded to the table's digits), and clamped so that every width fits the table and every
// index fits 16 bits. A subband whose zero bin covers all of it is not coded.
void quantise(const std::vector<float>& c, int width, const Tree& tree,
              const std::array<double, kCoded>& widths, const std::array<float, kCoded>& largest,
              double factor, Quantised& out) {
    out.indices.clear();
    int block = 0;
    for (int k = 0; k < kCoded; ++k) {
        while (block < 3 && k == kBlockStart[block]) out.block_at[block++] = out.indices.size();
        double q = widths[k] * factor;
        out.width[k] = out.zero[k] = Scaled{};
        if (q <= 0.0 || largest[k] <= kZeroBin * q / 2) continue;
        q = std::clamp(q, static_cast<double>(largest[k]) / kLargestIndex, kLargestWidth);
        out.width[k] = scaled16(q);
        out.zero[k] = scaled16(kZeroBin * q);
        const float bin = static_cast<float>(out.width[k].number());
        const float inverse = 1.0f / bin;
        const float half_zero = static_cast<float>(out.zero[k].number() / 2.0);
        const Band& b = tree.subbands[k];
        for (int y = b.y; y < b.y + b.height; ++y) {
            const float* row = &c[static_cast<std::size_t>(y) * width + b.x];
            for (int x = 0; x < b.width; ++x) {
                const float a = std::fabs(row[x]);
                int index = 0;
                if (a > half_zero)
                    index = std::min(static_cast<int>((a - half_zero) * inverse) + 1, 32767);
                out.indices.push_back(static_cast<std::int16_t>(row[x] < 0.0f ? -index : index));
            }
        }
    }
    out.block_at[3] = out.indices.size();
}

// ----------------------------------------------------------------------------------- symbols

// The standard's alphabet: 1-100 a run of that many zeros; 101/102 an index above 74 / below
// -73 in 8 more bits (its magnitude), 103/104 the same in 16 bits; 105/106 a run in 8/16 more
// bits; 107-254 an index from -73 to 74 (symbol = index + 180).
template <typename Sink>
void code_indices(const std::int16_t* v, std::size_t n, Sink& sink) {
    std::size_t i = 0;
    while (i < n) {
        if (v[i] == 0) {
            std::size_t run = 1;
            while (i + run < n && v[i + run] == 0 && run < 0xFFFF) ++run;
            if (run <= 100) {
                sink.symbol(static_cast<int>(run));
            } else if (run <= 0xFF) {
                sink.symbol(105);
                sink.raw(static_cast<std::uint32_t>(run), 8);
            } else {
                sink.symbol(106);
                sink.raw(static_cast<std::uint32_t>(run), 16);
            }
            i += run;
            continue;
        }
        const int index = v[i++];
        const auto magnitude = static_cast<std::uint32_t>(std::abs(index));
        if (index > 74 || index < -73) {
            const bool wide = magnitude > 255;
            sink.symbol((index > 0 ? 101 : 102) + (wide ? 2 : 0));
            sink.raw(magnitude, wide ? 16 : 8);
        } else {
            sink.symbol(index + 180);
        }
    }
}

struct Counter {
    std::array<std::uint64_t, 256> counts{};
    std::uint64_t raw_bits = 0;

    void symbol(int s) { ++counts[s]; }
    void raw(std::uint32_t, int bits) { raw_bits += bits; }
};

// ----------------------------------------------------------------------------------- Huffman

struct HuffmanTable {
    std::array<std::uint8_t, 16> lengths_count{};  // codes of 1 .. 16 bits
    std::vector<std::uint8_t> symbols;             // in code order
    std::array<std::uint16_t, 256> code{};
    std::array<std::uint8_t, 256> length{};
};

// Code lengths from the counts as JPEG builds them (ITU T.81 Annex K.2 and K.3), which WSQ
// adopts: a Huffman tree over the symbols used plus one reserved symbol, so that no code is all
// ones; lengths over 16 bits folded back; the reserved code dropped; canonical codes.
HuffmanTable huffman(std::array<std::uint64_t, 256> counts) {
    if (std::all_of(counts.begin(), counts.end(), [](std::uint64_t n) { return n == 0; }))
        counts[1] = 1;  // an empty block still gets a table with one code
    std::vector<int> used;
    for (int s = 0; s < 256; ++s)
        if (counts[s]) used.push_back(s);
    const int leaves = static_cast<int>(used.size()) + 1;  // the last leaf is the reserved one
    using Node = std::pair<std::uint64_t, int>;
    std::priority_queue<Node, std::vector<Node>, std::greater<Node>> queue;
    for (int i = 0; i < leaves; ++i) queue.push({i + 1 < leaves ? counts[used[i]] : 1, i});
    std::vector<int> parent(2 * leaves, -1);
    for (int next = leaves; queue.size() > 1; ++next) {
        const Node a = queue.top();
        queue.pop();
        const Node b = queue.top();
        queue.pop();
        parent[a.second] = parent[b.second] = next;
        queue.push({a.first + b.first, next});
    }
    std::vector<int> depth(leaves, 0);
    std::vector<int> per_length(std::max(leaves + 1, 17), 0);
    for (int i = 0; i < leaves; ++i) {
        for (int j = i; parent[j] != -1; j = parent[j]) ++depth[i];
        ++per_length[depth[i]];
    }
    for (int i = leaves; i > 16; --i) {
        while (per_length[i] > 0) {
            int j = i - 2;
            while (per_length[j] == 0) --j;
            per_length[i] -= 2;
            per_length[i - 1] += 1;
            per_length[j + 1] += 2;
            per_length[j] -= 1;
        }
    }
    int longest = 16;
    while (per_length[longest] == 0) --longest;
    --per_length[longest];  // the reserved symbol's code, the all-ones one
    std::vector<int> order(used.size());
    for (std::size_t i = 0; i < used.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return depth[a] < depth[b]; });
    HuffmanTable table;
    std::uint32_t code = 0;
    std::size_t next = 0;
    for (int bits = 1; bits <= 16; ++bits) {
        table.lengths_count[bits - 1] = static_cast<std::uint8_t>(per_length[bits]);
        for (int n = 0; n < per_length[bits]; ++n) {
            const int s = used[order[next++]];
            table.symbols.push_back(static_cast<std::uint8_t>(s));
            table.code[s] = static_cast<std::uint16_t>(code++);
            table.length[s] = static_cast<std::uint8_t>(bits);
        }
        code <<= 1;
    }
    return table;
}

// Bits of a block coded with `table`.
std::uint64_t coded_bits(const Counter& counter, const HuffmanTable& table) {
    std::uint64_t bits = counter.raw_bits;
    for (int s = 0; s < 256; ++s) bits += counter.counts[s] * table.length[s];
    return bits;
}

// --------------------------------------------------------------------------------- the file

constexpr std::uint16_t kStartOfImage = 0xFFA0, kEndOfImage = 0xFFA1, kStartOfFrame = 0xFFA2,
                        kStartOfBlock = 0xFFA3, kTransformTable = 0xFFA4,
                        kQuantisationTable = 0xFFA5, kHuffmanTable = 0xFFA6, kComment = 0xFFA8;
constexpr int kBinCentre = 44;  // C = 0.44: where in its bin a decoder puts a value

struct Bytes {
    std::vector<std::uint8_t> data;

    void u8(unsigned v) { data.push_back(static_cast<std::uint8_t>(v)); }
    void u16(unsigned v) {
        u8(v >> 8);
        u8(v & 0xFF);
    }
    void u32(std::uint32_t v) {
        u16(v >> 16);
        u16(v & 0xFFFF);
    }
    void scaled16(const Scaled& s) {
        u8(s.exponent);
        u16(s.value);
    }
};

// Coded bits, most significant first; a 0xFF byte is followed by a stuffed 0x00 (so that no
// marker appears inside), and the last byte is padded with ones.
class BitWriter {
  public:
    BitWriter(std::vector<std::uint8_t>& out, const HuffmanTable& table) : out_(out), table_(table) {}
    void symbol(int s) { raw(table_.code[s], table_.length[s]); }
    void raw(std::uint32_t value, int bits) {
        pending_ = (pending_ << bits) | value;
        count_ += bits;
        while (count_ >= 8) {
            count_ -= 8;
            const auto byte = static_cast<std::uint8_t>(pending_ >> count_);
            out_.push_back(byte);
            if (byte == 0xFF) out_.push_back(0);
        }
    }
    void finish() {
        if (count_ > 0) raw((1u << (8 - count_)) - 1, 8 - count_);
    }

  private:
    std::vector<std::uint8_t>& out_;
    const HuffmanTable& table_;
    std::uint64_t pending_ = 0;
    int count_ = 0;
};

std::string number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

std::string nistcom(int width, int height, int ppi, double bitrate) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%f", bitrate);
    return "NIST_COM 9\nPIX_WIDTH " + std::to_string(width) + "\nPIX_HEIGHT " +
           std::to_string(height) + "\nPIX_DEPTH 8\nPPI " + std::to_string(ppi) +
           "\nLOSSY 1\nCOLORSPACE GRAY\nCOMPRESSION WSQ\nWSQ_BITRATE " + rate;
}

void put_transform_table(Bytes& out) {
    out.u16(kTransformTable);
    out.u16(2 + 2 + 6 * static_cast<unsigned>(kLowTaps.size() + kHighTaps.size()));
    out.u8(2 * kLowTaps.size() - 1);
    out.u8(2 * kHighTaps.size() - 1);
    auto tap = [&](double v) {
        const Scaled s = scaled(std::fabs(v), 4294967295.0);
        out.u8(v < 0 ? 1 : 0);
        out.u8(s.exponent);
        out.u32(s.value);
    };
    for (double v : kLowTaps) tap(v);
    for (double v : kHighTaps) tap(v);
}

void put_quantisation_table(Bytes& out, const Quantised& q) {
    out.u16(kQuantisationTable);
    out.u16(2 + 3 + 64 * 6);
    out.scaled16(Scaled{2, kBinCentre});
    for (int k = 0; k < 64; ++k) {
        out.scaled16(k < kCoded ? q.width[k] : Scaled{});
        out.scaled16(k < kCoded ? q.zero[k] : Scaled{});
    }
}

void put_huffman_table(Bytes& out, int id, const HuffmanTable& table) {
    out.u16(kHuffmanTable);
    out.u16(static_cast<unsigned>(2 + 1 + 16 + table.symbols.size()));
    out.u8(id);
    for (std::uint8_t n : table.lengths_count) out.u8(n);
    for (std::uint8_t s : table.symbols) out.u8(s);
}

// ------------------------------------------------------------------------------ the encoder

constexpr int kBlockTable[3] = {0, 1, 1};
constexpr int kRateTrials = 14;
constexpr double kRateTolerance = 0.005;  // |ln(size / target)|: within 0.5 %

struct Trial {
    Quantised quantised;
    std::array<HuffmanTable, 2> tables;
    double bytes = 0.0;  // estimated (byte stuffing taken as 1 in 256)
};

void evaluate(Trial& trial, std::size_t fixed_bytes) {
    std::array<Counter, 3> blocks;
    for (int b = 0; b < 3; ++b) {
        const auto& at = trial.quantised.block_at;
        code_indices(trial.quantised.indices.data() + at[b], at[b + 1] - at[b], blocks[b]);
    }
    Counter second = blocks[1];
    for (int s = 0; s < 256; ++s) second.counts[s] += blocks[2].counts[s];
    trial.tables[0] = huffman(blocks[0].counts);
    trial.tables[1] = huffman(second.counts);
    double bytes = static_cast<double>(fixed_bytes);
    for (int t = 0; t < 2; ++t) bytes += 2 + 2 + 1 + 16 + trial.tables[t].symbols.size();
    for (int b = 0; b < 3; ++b)
        bytes += std::ceil(coded_bits(blocks[b], trial.tables[kBlockTable[b]]) / 8.0) *
                 (1.0 + 1.0 / 256);
    trial.bytes = bytes;
}

// The normalised image, (pixel - mean) / scale with the scale bringing the farther extreme to
// 128, mean and scale as the frame header states them (so that a decoder inverts exactly this).
struct Normalised {
    std::vector<float> values;
    Scaled shift, scale;
};

Normalised normalised(const ImageView& grey) {
    std::uint64_t sum = 0;
    int lowest = 255, highest = 0;
    for (int y = 0; y < grey.height; ++y)
        for (int x = 0; x < grey.width; ++x) {
            const int p = *grey.pixel(y, x);
            sum += p;
            lowest = std::min(lowest, p);
            highest = std::max(highest, p);
        }
    Normalised n;
    n.shift = scaled16(static_cast<double>(sum) / (static_cast<double>(grey.width) * grey.height));
    const double mean = n.shift.number();
    n.scale = scaled16(std::max(mean - lowest, highest - mean) / 128.0);
    const double divisor = n.scale.value ? n.scale.number() : 1.0;  // 0: a constant image
    n.values.resize(static_cast<std::size_t>(grey.width) * grey.height);
    for (int y = 0; y < grey.height; ++y)
        for (int x = 0; x < grey.width; ++x)
            n.values[static_cast<std::size_t>(y) * grey.width + x] =
                static_cast<float>((*grey.pixel(y, x) - mean) / divisor);
    return n;
}

// Rate control: the standard's widths give the shape; one factor on all of them (the standard's
// 1/q) is searched, by secant steps on ln(size) against ln(factor) kept inside the bracket found
// so far, until the file, tables included, is within kRateTolerance of `target` bytes. Sizes
// can move in steps (an image whose coefficients take few values): the closest trial is kept.
Trial rate_controlled(const std::vector<float>& c, int width, const Tree& tree,
                      const std::array<double, kCoded>& widths, double target,
                      std::size_t fixed_bytes) {
    const auto largest = largest_magnitudes(c, width, tree);
    Trial best, trial;
    quantise(c, width, tree, widths, largest, 1.0, best.quantised);
    evaluate(best, fixed_bytes);
    double t_last = 0.0, e_last = std::log(best.bytes / target);
    double too_big = -INFINITY, too_small = INFINITY;  // ln(factor)s known to give such sizes
    (e_last > 0 ? too_big : too_small) = 0.0;
    double slope = -1.0;  // d ln(size) / d ln(factor), first guess
    for (int i = 0; i < kRateTrials && std::fabs(e_last) > kRateTolerance; ++i) {
        double t = t_last - e_last / slope;
        if (!(t > too_big && t < too_small))
            t = std::isfinite(too_big) && std::isfinite(too_small) ? (too_big + too_small) / 2
                : std::isfinite(too_big) ? too_big + 2.0 : too_small - 2.0;
        if (std::fabs(t) > 30.0) break;  // the factor no longer changes anything
        quantise(c, width, tree, widths, largest, std::exp(t), trial.quantised);
        evaluate(trial, fixed_bytes);
        const double e = std::log(trial.bytes / target);
        (e > 0 ? too_big : too_small) = t;
        const double measured = (e - e_last) / (t - t_last);
        slope = measured < -0.05 ? std::min(measured, -0.2) : slope;
        if (std::fabs(e) < std::fabs(std::log(best.bytes / target))) std::swap(best, trial);
        t_last = t;
        e_last = e;
    }
    return best;
}

std::vector<std::uint8_t> file_of(const Trial& coded, const Normalised& image, int width, int height,
                                  const std::string& comment) {
    Bytes out;
    out.data.reserve(static_cast<std::size_t>(coded.bytes * 1.05) + 64);
    out.u16(kStartOfImage);
    out.u16(kComment);
    out.u16(static_cast<unsigned>(2 + comment.size()));
    out.data.insert(out.data.end(), comment.begin(), comment.end());
    put_transform_table(out);
    put_quantisation_table(out, coded.quantised);
    for (int t = 0; t < 2; ++t) put_huffman_table(out, t, coded.tables[t]);
    out.u16(kStartOfFrame);
    out.u16(17);
    out.u8(0);    // black
    out.u8(255);  // white
    out.u16(height);
    out.u16(width);
    out.scaled16(image.shift);
    out.scaled16(image.scale);
    out.u8(2);   // WSQ encoder number, as NBIS's encoder writes it
    out.u16(0);  // software implementation number
    for (int b = 0; b < 3; ++b) {
        out.u16(kStartOfBlock);
        out.u16(3);
        out.u8(kBlockTable[b]);
        BitWriter writer(out.data, coded.tables[kBlockTable[b]]);
        const auto& at = coded.quantised.block_at;
        code_indices(coded.quantised.indices.data() + at[b], at[b + 1] - at[b], writer);
        writer.finish();
    }
    out.u16(kEndOfImage);
    return std::move(out.data);
}

}  // namespace

void analyse(const Plane& plane, bool invert_x, bool invert_y) {
    split_lines(plane.data, plane.width, plane.height, 1, plane.stride, invert_x);
    split_lines(plane.data, plane.height, plane.width, plane.stride, 1, invert_y);
}

std::vector<std::uint8_t> encode(const ImageView& grey, double bitrate, double ppi) {
    const int width = grey.width, height = grey.height;
    if (width < kMinSide || height < kMinSide || width > kMaxSide || height > kMaxSide)
        throw NativeError("wsq_encode: the image must be " + std::to_string(kMinSide) + " to " +
                          std::to_string(kMaxSide) + " pixels on each side, got " +
                          std::to_string(width) + " x " + std::to_string(height));
    if (!(bitrate >= kMinBitrate && bitrate <= kMaxBitrate))
        throw NativeError("wsq_encode: bitrate must be " + number(kMinBitrate) + " to " +
                          number(kMaxBitrate) + " bits per pixel, got " + number(bitrate));
    if (!(ppi >= kMinPpi && ppi <= kMaxPpi))
        throw NativeError("wsq_encode: ppi must be " + number(kMinPpi) + " to " + number(kMaxPpi) +
                          ", got " + number(ppi));
    Normalised image = normalised(grey);
    std::vector<float>& c = image.values;
    const Tree tree = tree_of(width, height);
    for (const Band& b : tree.splits)
        analyse(Plane{&c[static_cast<std::size_t>(b.y) * width + b.x], b.width, b.height, width},
                b.invert_x, b.invert_y);
    const std::string comment = nistcom(width, height, static_cast<int>(std::lround(ppi)), bitrate);
    const std::size_t fixed_bytes = 2 + (2 + 2 + comment.size()) + (2 + 58) + (2 + 389) +
                                    (2 + 17) + 3 * (2 + 3) + 2;  // all but the Huffman parts
    const auto widths = standard_widths(variances(c, width, tree), bitrate);
    const Trial coded =
        rate_controlled(c, width, tree, widths, bitrate * width * height / 8.0, fixed_bytes);
    return file_of(coded, image, width, height, comment);
}

}  // namespace bqat::wsq
