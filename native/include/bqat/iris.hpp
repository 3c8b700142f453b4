// Iris localisation and the ISO/IEC 29794-6 iris measures on an 8-bit grey close-up of one eye.
//
// Coordinates are pixel-centre coordinates of the full image: pixel (row i, column j) has its
// centre at x = j, y = i; angles are measured from +x towards +y (image down).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bqat/image.hpp"

namespace bqat {

struct IrisCircle {
    double x = 0.0;
    double y = 0.0;
    double r = 0.0;
};

struct IrisLocation {
    bool found = false;
    std::string reason;  // why no eye was accepted (empty when found)
    IrisCircle pupil;
    IrisCircle iris;
    double pupil_step = 0.0;  // grey-level step across the pupil boundary (outside - inside)
    double iris_step = 0.0;   // grey-level step across the lateral limbus (sclera - iris)
};

// A measure's value, or why it cannot be computed on this sample (error non-empty).
struct IrisValue {
    double value = 0.0;
    std::string error;
};

struct IrisMeasures {
    IrisValue usable_iris_area;            // % of the iris annulus not occluded
    IrisValue iris_sclera_contrast;        // 0..100
    IrisValue iris_pupil_contrast;         // 0..100
    IrisValue pupil_boundary_circularity;  // 0..100
    IrisValue grey_scale_utilisation;      // bits
    double iris_radius = 0.0;              // px
    double pupil_iris_ratio = 0.0;         // %
    double iris_pupil_concentricity = 0.0; // 0..100
    double margin_adequacy = 0.0;          // 0..100
    double pupil_grey = -1.0;              // medians of the regions (-1: no pixel)
    double iris_grey = -1.0;
    double sclera_grey = -1.0;
    double specular_threshold = 0.0;       // grey level at and above which a pixel is specular
    // Eyelid/eyelash occlusion on the polar grid about the iris centre: mask[a * radii + k] is 1
    // when cell (angle a, radius k) is occluded or outside the image.
    int mask_angles = 0;
    int mask_radii = 0;
    std::vector<std::uint8_t> mask;
};

// Everything the iris engine needs from one image, sharing one image pyramid.
struct IrisAssessment {
    IrisLocation location;
    bool measured = false;  // measures holds values (an eye was found)
    IrisMeasures measures;
    double sharpness = 0.0;
};

// One dark round region tried as a pupil, and what came of it (for diagnostics and tests).
struct IrisCandidate {
    IrisCircle blob;  // the dark region, full-size coordinates
    double blob_inner = 0.0, blob_ring = 0.0;
    IrisCircle pupil, iris;
    double pupil_coarse = 0.0, iris_coarse = 0.0;  // boundary steps on the search levels
    double pupil_inner = 0.0;                      // mean grey inside 0.7 pupil radii
    double iris_inner = 0.0;                       // mean grey of the ring between the circles
    double pupil_support = 0.0;                    // share of the pupil circle on a boundary
    double dark_outside = 0.0;                     // share of the ring outside as dark as the pupil
    double score = 0.0;                            // ranking of plausible candidates
    double pupil_step = 0.0, iris_step = 0.0;      // at full size
    std::string rejected;                          // why it is not an eye (empty: plausible)
};

std::vector<IrisCandidate> iris_candidates(const ImageView& grey);

// Finds the pupil and the iris (limbus) circles; found == false with a reason when no eye is seen.
IrisLocation iris_locate(const ImageView& grey);

// Locates the eye, then measures it; the sharpness is of the whole image, eye or not.
IrisAssessment iris_assess(const ImageView& grey);

// The ISO/IEC 29794-6 measures given the two circles (pupil inside the iris).
IrisMeasures iris_measures(const ImageView& grey, const IrisCircle& pupil, const IrisCircle& iris);

// ISO/IEC 29794-6 sharpness of the whole image, 0..100.
double iris_sharpness(const ImageView& grey);

}  // namespace bqat
