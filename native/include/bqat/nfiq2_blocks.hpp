// The block steps NFIQ 2's local features share (internal to the nfiq2_*.cpp kernels).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "bqat/nfiq2.hpp"

// Pointers that do not alias (lets the compiler vectorise the pixel loops).
#if defined(_MSC_VER)
#define BQAT_RESTRICT __restrict
#else
#define BQAT_RESTRICT __restrict__
#endif

// Hot loops get an AVX2 clone chosen at load time where the toolchain supports it (GCC on
// x86-64 Linux); the default build stays portable.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define BQAT_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BQAT_AVX2_CLONES
#endif

namespace bqat::nfiq2 {

constexpr int kBlock = 32;  // ISO/IEC 29794-4 local region side
constexpr int kOffset = 2;  // border of the 36 x 36 window that holds a 32 x 16 slanted block

// ridgesegment: the 32 x 32 tiles (partial at the edges) whose std, relative to the image's,
// exceeds 0.1; one byte per pixel (1 = foreground).
std::vector<std::uint8_t> segmentation_mask(const Grey& image);

// covcoef of the 32 x 32 block at (top, left), centred differences (one-sided at the block
// edges): a = mean fx^2, b = mean fy^2, c = mean fx fy. OCL and the orientation both read it.
struct GradientMoments {
    double a, b, c;
};
GradientMoments gradient_moments(const Grey& image, int top, int left);

// ridgeorient: atan2(c, a - b) / 2 of the block's gradient moments, as NIST writes it.
double block_orientation(const Grey& image, int top, int left);

// getRotatedBlock: a 36 x 36 window, rotated by `angle` (radians, anticlockwise as
// cv::getRotationMatrix2D) with OpenCV 4.6's nearest-neighbour warp (inverse map in 10-bit fixed
// point). Without `pad` the source is the 36 x 36 window at (top, left) rotated about its centre;
// with `pad` it is the 40 x 40 window at (top - 2, left - 2), rotated about (20, 20) into 36 x 36
// (NIST's copyMakeBorder of a sub-matrix reads the image around it). Pixels outside the image or
// mapped from outside the source are 0.
using Window = std::array<std::uint8_t, 36 * 36>;
void rotated_window(const Grey& image, int top, int left, double angle, bool pad, Window& out);

// getRidgeValleyStructure of the rows [r0, r0 + nr) x columns [c0, c0 + nc) of a window: the
// column means, their least-squares line over x = 1..nc (coefficients rounded to 1e-10) and
// ridge = mean below the line.
struct RidgeValley {
    int n = 0;
    std::array<double, 36> mean{};
    std::array<double, 36> line{};
    std::array<std::uint8_t, 36> ridge{};
};
RidgeValley ridge_valley(const Window& w, int r0, int nr, int c0, int nc);

// Centred differences along a row of n values (one-sided at both ends; 0 when n == 1).
void row_gradient(const std::uint8_t* in, std::ptrdiff_t step, int n, double* out);

}  // namespace bqat::nfiq2
