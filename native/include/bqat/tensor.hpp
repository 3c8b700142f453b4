// Model input tensors: letterbox resize and affine-warped crops, normalised in the same pass.
#pragma once

#include <array>

#include "bqat/image.hpp"

namespace bqat {

enum class Layout { NCHW, NHWC };

// How pixels become tensor values: channel order, (p - mean[c]) / std[c], and the memory layout.
// The output always has 3 channels; grey input is replicated and a 4th (alpha) channel ignored.
struct TensorSpec {
    std::array<float, 3> mean{0.f, 0.f, 0.f};
    std::array<float, 3> std{1.f, 1.f, 1.f};
    bool swap_rb = false;
    Layout layout = Layout::NCHW;
};

// A float32 destination of one sample: out_height x out_width x 3 in `layout`.
struct TensorOut {
    float* data = nullptr;
    int height = 0;
    int width = 0;
};

// Resizes `image` by one factor to fit out_height x out_width (bilinear, half-pixel centres,
// as cv2.INTER_LINEAR on float input), places it at the top-left corner and fills the rest with
// `pad` (a pixel value, normalised like the pixels). Returns the scale factor applied.
double letterbox(const ImageView& image, const TensorSpec& spec, float pad, const TensorOut& out);

// Samples out(x, y) = image(M * [x, y, 1]) bilinearly, where `inverse` (row-major 2x3) maps output
// pixel coordinates to source coordinates; taps outside the image read `border`.
void warp_crop(const ImageView& image, const double inverse[6], const TensorSpec& spec,
               float border, const TensorOut& out);

}  // namespace bqat
