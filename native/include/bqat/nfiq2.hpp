// NFIQ 2 (NIST, v2.3) native quality features of an 8-bit grey fingerprint image at 500 ppi.
//
// Our own implementation of NIST's published definitions (ISO/IEC 29794-4 and the NFIQ 2 source
// semantics): the white frame trimmed first, 32 x 32 local regions, the same ROI rule,
// orientation estimate, ridge-valley and frequency-domain steps and histogram boundaries. Each
// step that NIST delegates to OpenCV 4.6 is re-done here to give the same numbers (nearest-
// neighbour rotation in 10-bit fixed point, the bit-exact 8-bit Gaussian blur, Otsu, contour
// hole filling, flood fill), so the features equal NIST's on its own inputs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bqat/image.hpp"

namespace bqat::nfiq2 {

// A contiguous grey image that the features own (the trimmed copy of the caller's view).
struct Grey {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;

    std::uint8_t at(int y, int x) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
    const std::uint8_t* row(int y) const { return pixels.data() + static_cast<std::size_t>(y) * width; }
};

// The fingerprint's box once rows, then columns, whose mean grey level is above 250 are cut from
// each edge (NIST's copyRemovingNearWhiteFrame); bounds inclusive. `ok` is false when nothing is
// left (`reason` says why).
struct Frame {
    int top = 0, bottom = -1, left = 0, right = -1;
    bool ok = false;
    std::string reason;
};
Frame white_frame(const ImageView& image);
Grey copy_region(const ImageView& image, const Frame& frame);

// NIST's histograms: 10 bins split by 9 boundaries (a value v falls in the bin that counts the
// boundaries <= v), with the population mean and std of the values.
struct Histogram {
    std::array<int, 10> bins{};
    double mean = 0;
    double std = 0;
    std::vector<double> values;  // in the order computed (blocks row by row)
};
Histogram histogram(std::vector<double> values, const double (&limits)[9]);

// FDA, LCS, RVUP and OF over NIST's offset block grid (32 x 32 blocks at 2 + 32 k whose 36 x 36
// window fits), with the per-block orientation and foreground maps (rows x cols, row-major).
struct LocalFeatures {
    Histogram fda, lcs, rvup, of;
    int rows = 0, cols = 0;
    std::vector<double> orientation;      // ridgeorient of each block, radians
    std::vector<std::uint8_t> foreground;  // every pixel of the block in the segmentation mask
    std::vector<double> fda_period;        // ridge period (px) at the FDA spectrum peak, refined
                                           // between bins by a parabola; 0: none
};
LocalFeatures local_features(const Grey& image);

// OCL over the aligned full 32 x 32 blocks; `ocl_block` is -1 when the block has no gradient.
Histogram ocl_histogram(const Grey& image);
double ocl_block(const Grey& image, int top, int left);

// Mu (mean), its std (the UniformImage feedback) and MMB (mean of the 32 x 32 block means).
struct Contrast {
    double mu = 0, sigma = 0, mmb = 0;
};
Contrast contrast(const Grey& image);

// ImgProcROI (foreground mask, its pixel count and mean grey level) and the orientation-map
// coherence of the ROI blocks (QualityMap).
struct Roi {
    std::vector<std::uint8_t> mask;  // 1 = foreground, width x height
    int pixels = 0;
    double mean = 255.0;
    int blocks = 0;
    double coherence_sum = 0, coherence_rel = 0;
};
Roi roi(const Grey& image);

// The steps of the ROI, exposed for their tests: a 5 x 5 grey erosion (pixels outside ignored),
// OpenCV's bit-exact 8-bit Gaussian blur (sigma = 0.15 ksize + 0.35, reflect-101 borders), and
// Otsu's threshold of a 256-bin histogram. `binary` says the image holds only 0 and 255 (the
// row pass then goes by runs; the result is the same).
std::vector<std::uint8_t> erode5(const std::uint8_t* pixels, int width, int height);
std::vector<std::uint8_t> gaussian_blur(const std::uint8_t* pixels, int width, int height, int ksize,
                                        bool binary = false);
std::vector<int> gaussian_kernel_q8(int ksize);
int otsu_threshold(const std::uint8_t* pixels, std::size_t count);

// The minutiae-position features of NIST (FJFXMinutiaeQuality, FingerJetFX COM rectangle).
struct MinutiaePositionFeatures {
    int count = 0;
    int com_rect_200 = 0;
    double mu_quality_2 = 0;   // share with (Mu - local mean) / sigma in (0, 0.5]
    double ocl_quality_80 = 0; // share with round(100 OCL) > 80
};
MinutiaePositionFeatures minutiae_position_features(const Grey& image, const std::vector<int>& x,
                                                    const std::vector<int>& y);

// A random forest as NIST NFIQ 2's arrays (nfiq2_rf.npz): per node the feature index (< 0 at a
// leaf), the threshold, the children relative to the tree's first node, the leaf class.
struct ForestView {
    const std::int16_t* var = nullptr;
    const float* thr = nullptr;
    const std::int32_t* left = nullptr;
    const std::int32_t* right = nullptr;
    const float* value = nullptr;
    const std::int32_t* tree_off = nullptr;
    const std::int32_t* tree_n = nullptr;
    std::size_t nodes = 0;
    int trees = 0;
    int features = 0;
};
// The number of trees whose leaf is class 1 (go left when x[var] <= thr): the NFIQ 2 score.
int forest_votes(const ForestView& forest, const float* x);

}  // namespace bqat::nfiq2
