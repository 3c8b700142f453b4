// A read-only view of an 8-bit image in caller-owned memory (any strides, 1-4 channels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace bqat {

// Raised for arguments a kernel cannot take; the bindings turn it into bqat.NativeError.
struct NativeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ImageView {
    const std::uint8_t* data = nullptr;
    int height = 0;
    int width = 0;
    int channels = 1;
    std::ptrdiff_t row_stride = 0;      // bytes between rows
    std::ptrdiff_t pixel_stride = 0;    // bytes between pixels of a row
    std::ptrdiff_t channel_stride = 1;  // bytes between channels of a pixel

    const std::uint8_t* pixel(int y, int x) const {
        return data + y * row_stride + x * pixel_stride;
    }
};

}  // namespace bqat
