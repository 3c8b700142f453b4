// The steps of our minutiae extractor (internal to minutiae_*.cpp; exposed for their tests).
#pragma once

#include <cstdint>
#include <vector>

#include "bqat/minutiae.hpp"
#include "bqat/nfiq2.hpp"

namespace bqat::minutiae {

constexpr int kCell = 8;  // orientation field resolution, px

// Ridge orientation per 8 x 8 cell from the gradient structure tensor (Sobel), smoothed over
// 5 x 5 cells: `angle` is the ridge direction in [0, pi) (x right, y down), `coherence` in [0, 1].
struct OrientationField {
    int cols = 0, rows = 0;
    std::vector<double> angle, coherence, energy;  // energy: mean squared gradient of the cell
};
OrientationField orientation_field(const nfiq2::Grey& image);

// Ridge period in px: the median of the FDA spectrum peaks of the foreground blocks, within
// [6, 14]; 9 when no block has one.
double ridge_period(const nfiq2::LocalFeatures& local);

// Orientation-guided enhancement: each pixel smoothed along its cell's ridge direction
// (Gaussian, sigma 2 px) and then filtered across it by an even Gabor of the ridge period
// (zero mean, sigma period / 2). Ridges (dark) come out negative. Only pixels where `where` is
// non-zero are computed (0 elsewhere).
std::vector<float> enhance(const nfiq2::Grey& image, const OrientationField& field, double period,
                           const std::vector<std::uint8_t>& where, const Params& params = Params());

// Zhang-Suen thinning of a binary image (1 = ridge) in place, then removal of the corner pixels
// of staircases, leaving 8-connected lines one pixel wide.
void thin(std::vector<std::uint8_t>& bits, int width, int height);

// Crossing number of the skeleton pixel at (x, y): half the number of 0/1 changes around its 8
// neighbours (1: ridge ending, 2: ridge, 3: bifurcation). Pixels outside count as 0.
int crossing_number(const std::vector<std::uint8_t>& bits, int width, int height, int x, int y);

}  // namespace bqat::minutiae
