// Grey-image statistics computed in one pass over the pixels.
#pragma once

#include "bqat/image.hpp"

namespace bqat {

struct GreyStats {
    double mean = 0;                // mean grey level
    double std = 0;                 // population standard deviation of grey levels
    double dynamic_range = 0;       // mean of the brightest 1% minus mean of the darkest 1%
    double laplacian_variance = 0;  // variance of the 4-neighbour Laplacian, reflect-101 borders
    double block_mean_std = 0;      // population std of the means of block x block tiles
    double entropy = 0;             // Shannon entropy of the 256-bin histogram, in bits
};

// `image` must have one channel. Tiles cover the image from the top-left; edge tiles may be
// partial and count with the mean of the pixels they hold.
GreyStats grey_stats(const ImageView& image, int block);

}  // namespace bqat
