// Perceptual hashes of grey images and the search for pairs of hashes a few bits apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bqat/image.hpp"

namespace bqat {

// The 64-bit DCT hash of a one-channel image: the 32 x 32 box average, its unnormalised 2-D
// DCT-II, and one bit per coefficient of the 8 x 8 lowest frequencies, set when the coefficient
// exceeds their median; coefficient (row, col) is bit 63 - (8 row + col).
std::uint64_t phash(const ImageView& image);

// `count` uint64 values `stride` bytes apart in caller-owned memory, read bytewise because a view
// need not be aligned.
struct HashView {
    const std::uint8_t* data = nullptr;
    std::size_t count = 0;
    std::ptrdiff_t stride = 8;

    std::uint64_t operator[](std::size_t i) const {
        std::uint64_t value;
        std::memcpy(&value, data + static_cast<std::ptrdiff_t>(i) * stride, sizeof value);
        return value;
    }
};

// Every pair of positions first < second whose hashes differ in at most max_distance bits,
// sorted by (first, second).
struct NearPairs {
    std::vector<std::int64_t> first;
    std::vector<std::int64_t> second;
    std::vector<std::uint8_t> distance;
};

// Multi-index search: the 64 bits split into max_distance + 1 chunks, and two hashes that close
// agree on one of them, so only hashes sharing a chunk value are compared. 0 <= max_distance <= 32.
NearPairs near_pairs(const HashView& hashes, int max_distance);

}  // namespace bqat
