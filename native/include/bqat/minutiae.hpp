// Our minutiae extractor for 500 ppi fingerprints (NFIQ 2's FingerJetFX is not available):
// orientation-guided enhancement, binarisation, thinning, crossing number, a quality per
// minutia, and the removal of border and spurious minutiae.
#pragma once

#include <cstdint>
#include <vector>

#include "bqat/nfiq2.hpp"

namespace bqat::minutiae {

struct Minutiae {
    std::vector<int> x, y;          // pixel position in the trimmed image
    std::vector<double> angle;      // ridge direction at the minutia, radians in [0, 2 pi)
    std::vector<std::uint8_t> kind; // 1 ridge ending, 2 bifurcation
    std::vector<double> quality;    // 0-100
};

// The extractor's settings; the defaults are the ones bqat uses (chosen on the NIST samples
// against FingerJetFX's counts).
struct Params {
    double along_sigma = 2.0;     // smoothing along the ridge, px
    int along_taps = 4;           // taps each side
    double across_sigma = 0.5;    // Gabor envelope across the ridge, in ridge periods
    int across_taps = 6;          // taps each side
    double min_roi_share = 0.5;   // a usable 8 x 8 cell is at least this much NIST ROI
    double min_coherence = 0.25;  // and has at least this orientation coherence
    double min_energy = 0.5;      // or this share of the ROI's median gradient energy
    int border_cells = 0;         // minutiae this many cells from unusable ones are dropped
    int image_margin = 8;         // and those this close to the image edge, px
    double reach_dot = 0.5;       // two endings joined by a ridge this short (periods) go
    double reach_spur = 1.0;      // an ending and a bifurcation joined this close go
    double reach_lake = 1.5;      // two bifurcations joined this close go
    double gap = 0.5;             // endings this close (periods), facing each other, go
    double look = 1.0;            // endings facing unusable cells this close (periods) go
    double period = 0;            // ridge period in px; 0: from the FDA spectra
};

// The minutiae of a trimmed 500 ppi image, given NFIQ 2's block maps and ROI of that image.
Minutiae extract(const nfiq2::Grey& image, const nfiq2::LocalFeatures& local, const nfiq2::Roi& roi,
                 const Params& params = Params());

}  // namespace bqat::minutiae
