// WSQ, the FBI's grey-scale fingerprint compression (IAFIS-IC-0110 v3.1): our encoder. The image
// is normalised, split by the 9/7 symmetric wavelet filter bank into the standard's 64 subbands,
// quantised with bin widths set from the subband variances and the target bit rate, and written
// as Huffman-coded blocks in the standard's file syntax, readable by any WSQ decoder (NBIS's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bqat/image.hpp"

namespace bqat::wsq {

// Sides the encoder takes: from 49 every band the decomposition splits is at least 4 samples
// long; below, some are 3 or fewer, which NBIS's synthesis does not always rebuild (its edge
// reflection needs two low-pass and two high-pass samples: a 47 x 47 image decodes to noise).
// The frame header holds 16-bit sizes.
constexpr int kMinSide = 49;
constexpr int kMaxSide = 65535;
// Target bit rates (bits per pixel of the whole file): below 0.1 the tables alone outweigh the
// image at usual sizes; above 8 the file would be larger than the 8-bit pixels.
constexpr double kMinBitrate = 0.1;
constexpr double kMaxBitrate = 8.0;
// Resolutions the NISTCOM comment records (integer ppi, as NIST's readers parse it).
constexpr double kMinPpi = 1.0;
constexpr double kMaxPpi = 100000.0;

// A float image in caller memory: `stride` floats between the starts of rows.
struct Plane {
    float* data = nullptr;
    int width = 0;
    int height = 0;
    std::ptrdiff_t stride = 0;
};

// One level of the analysis filter bank, in place: each row, then each column, becomes its
// low-pass half (ceil(n / 2) samples, the 9-tap filter centred on the even samples) followed by
// its high-pass half (floor(n / 2), the 7-tap filter centred on the odd samples), with
// whole-sample symmetric extension at both ends (x[-i] = x[i], x[n - 1 + i] = x[n - 1 - i]).
// An inverted axis puts the high-pass half first (the standard does so in bands that were
// themselves high-pass, keeping the subbands in frequency order).
void analyse(const Plane& plane, bool invert_x, bool invert_y);

// The WSQ file of a grey 8-bit image at `bitrate` bits per pixel (the whole file's size is
// brought to within about 1 % of it where the image allows), recording `ppi` (rounded) in its
// NISTCOM comment. NativeError for sizes, rates or resolutions outside the ranges above.
std::vector<std::uint8_t> encode(const ImageView& grey, double bitrate, double ppi);

}  // namespace bqat::wsq
