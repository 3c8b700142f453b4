// bqat._native: the fingerprint kernels (NFIQ 2 features, minutiae, the forest). Arguments are
// checked here and viewed without copies; the kernels run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "bqat/minutiae.hpp"
#include "bqat/minutiae_steps.hpp"
#include "bqat/modalities.hpp"
#include "bqat/nfiq2.hpp"
#include "bqat/nfiq2_blocks.hpp"
#include "bqat/numpy_views.hpp"
#include "bqat/wsq.hpp"

namespace py = pybind11;
using bqat::NativeError;
using bqat::image_view;
using bqat::shape_of;
namespace nf = bqat::nfiq2;

namespace {

// The features NIST refuses to compute without enough data, and why.
constexpr int kMinFdaBlocks = 10;

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
    py::array_t<T> a(shape);
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

nf::Grey grey_of(const py::array& image, const char* what) {
    const auto view = image_view(image, what, true);
    nf::Frame all;
    all.top = 0;
    all.left = 0;
    all.bottom = view.height - 1;
    all.right = view.width - 1;
    return nf::copy_region(view, all);
}

void put_histogram(py::dict& d, py::dict& errors, const std::string& prefix, const nf::Histogram& h,
                   bool details) {
    for (int i = 0; i < 10; ++i) d[py::str(prefix + "_Bin10_" + std::to_string(i))] = h.bins[i];
    if (h.values.empty()) {
        errors[py::str(prefix)] = "no " + prefix + " value: no block qualifies (blank or too small image?)";
        d[py::str(prefix + "_Bin10_Mean")] = py::none();
        d[py::str(prefix + "_Bin10_StdDev")] = py::none();
    } else {
        d[py::str(prefix + "_Bin10_Mean")] = h.mean;
        d[py::str(prefix + "_Bin10_StdDev")] = h.std;
    }
    if (details) d[py::str(prefix + "_values")] = h.values;
}

py::dict frame(const py::array& image) {
    const auto view = image_view(image, "nfiq2_frame", true);
    nf::Frame f;
    {
        py::gil_scoped_release release;
        f = nf::white_frame(view);
    }
    py::dict d;
    d["ok"] = f.ok;
    d["top"] = f.top;
    d["bottom"] = f.bottom;
    d["left"] = f.left;
    d["right"] = f.right;
    d["reason"] = f.reason;
    return d;
}

py::dict assess(const py::array& image, bool details) {
    const auto view = image_view(image, "nfiq2_assess", true);
    nf::Frame all;
    all.bottom = view.height - 1;
    all.right = view.width - 1;
    nf::Grey grey;
    nf::LocalFeatures local;
    nf::Histogram ocl;
    nf::Contrast contrast;
    nf::Roi roi;
    bqat::minutiae::Minutiae found;
    nf::MinutiaePositionFeatures positions;
    {
        py::gil_scoped_release release;
        grey = nf::copy_region(view, all);
        contrast = nf::contrast(grey);
        local = nf::local_features(grey);
        ocl = nf::ocl_histogram(grey);
        roi = nf::roi(grey);
        found = bqat::minutiae::extract(grey, local, roi);
        positions = nf::minutiae_position_features(grey, found.x, found.y);
    }
    py::dict d, errors;
    put_histogram(d, errors, "FDA", local.fda, details);
    if (!local.fda.values.empty() && local.fda.values.size() < kMinFdaBlocks)
        errors["FDA"] = "only " + std::to_string(local.fda.values.size()) +
                        " foreground blocks; FDA needs at least 10 (is the image blank?)";
    put_histogram(d, errors, "LCS", local.lcs, details);
    put_histogram(d, errors, "OCL", ocl, details);
    put_histogram(d, errors, "OF", local.of, details);
    put_histogram(d, errors, "RVUP", local.rvup, details);
    d["FingerJetFX_MinCount_COMMinRect200x200"] = positions.com_rect_200;
    d["FingerJetFX_MinutiaeCount"] = positions.count;
    d["FJFXPos_Mu_MinutiaeQuality_2"] = positions.mu_quality_2;
    d["FJFXPos_OCL_MinutiaeQuality_80"] = positions.ocl_quality_80;
    d["ImgProcROIArea_Mean"] = roi.mean;
    d["MMB"] = contrast.mmb;
    d["Mu"] = contrast.mu;
    d["OrientationMap_ROIFilter_CoherenceRel"] = roi.coherence_rel;
    d["OrientationMap_ROIFilter_CoherenceSum"] = roi.coherence_sum;
    d["UniformImage"] = contrast.sigma;
    d["EmptyImageOrContrastTooLow"] = contrast.mu;
    d["FingerprintImageWithMinutiae"] = positions.count;
    d["SufficientFingerprintForeground"] = roi.pixels;
    py::dict m;
    const py::ssize_t count = static_cast<py::ssize_t>(found.x.size());
    m["x"] = to_array(found.x, {count});
    m["y"] = to_array(found.y, {count});
    m["angle"] = to_array(found.angle, {count});
    m["kind"] = to_array(found.kind, {count});
    m["quality"] = to_array(found.quality, {count});
    d["minutiae"] = m;
    d["errors"] = errors;
    if (details) {
        d["orientation"] = to_array(local.orientation, {local.rows, local.cols});
        d["foreground"] = to_array(local.foreground, {local.rows, local.cols});
        d["fda_period"] = to_array(local.fda_period, {local.rows, local.cols});
        d["roi_mask"] = to_array(roi.mask, {grey.height, grey.width});
        d["roi_blocks"] = roi.blocks;
    }
    return d;
}

// NIST's forest as arrays checked once (every child and feature index in range), so that each
// score is only the walk.
class Forest {
  public:
    using I16 = py::array_t<std::int16_t, py::array::c_style | py::array::forcecast>;
    using I32 = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;
    using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;

    Forest(const I16& var, const F32& thr, const I32& left, const I32& right, const F32& value,
           const I32& tree_off, const I32& tree_n, int features)
        : var_(var), thr_(thr), left_(left), right_(right), value_(value), off_(tree_off), n_(tree_n) {
        const py::ssize_t nodes = var_.size();
        for (const py::array* a : {static_cast<const py::array*>(&var_), static_cast<const py::array*>(&thr_),
                                   static_cast<const py::array*>(&left_), static_cast<const py::array*>(&right_),
                                   static_cast<const py::array*>(&value_)})
            if (a->ndim() != 1 || a->size() != nodes)
                throw NativeError("Nfiq2Forest: var, thr, left, right and value must be 1-D of one length");
        if (off_.ndim() != 1 || n_.ndim() != 1 || off_.size() != n_.size())
            throw NativeError("Nfiq2Forest: tree_off and tree_n must be 1-D of one length");
        if (features < 1) throw NativeError("Nfiq2Forest: features must be >= 1");
        f_.var = var_.data();
        f_.thr = thr_.data();
        f_.left = left_.data();
        f_.right = right_.data();
        f_.value = value_.data();
        f_.tree_off = off_.data();
        f_.tree_n = n_.data();
        f_.nodes = static_cast<std::size_t>(nodes);
        f_.trees = static_cast<int>(off_.size());
        f_.features = features;
        for (int t = 0; t < f_.trees; ++t) {
            const std::int32_t first = f_.tree_off[t], size = f_.tree_n[t];
            if (first < 0 || size < 1 || static_cast<py::ssize_t>(first) + size > nodes)
                throw NativeError("Nfiq2Forest: tree " + std::to_string(t) + " lies outside the nodes");
            for (std::int32_t i = first; i < first + size; ++i) {
                if (f_.var[i] >= features)
                    throw NativeError("Nfiq2Forest: node " + std::to_string(i) + " reads feature " +
                                      std::to_string(f_.var[i]) + " of " + std::to_string(features));
                if (f_.var[i] >= 0 && (f_.left[i] < 0 || f_.left[i] >= size || f_.right[i] < 0 ||
                                       f_.right[i] >= size))
                    throw NativeError("Nfiq2Forest: node " + std::to_string(i) + " has a child outside its tree");
            }
        }
    }

    int votes(const F32& x) const {
        if (x.ndim() != 1 || x.size() != f_.features)
            throw NativeError("Nfiq2Forest.votes: x must be 1-D with " + std::to_string(f_.features) +
                              " features, got shape " + shape_of(x));
        const float* data = x.data();
        py::gil_scoped_release release;
        return nf::forest_votes(f_, data);
    }

    int features() const { return f_.features; }

  private:
    I16 var_;
    F32 thr_;
    I32 left_, right_;
    F32 value_;
    I32 off_, n_;
    nf::ForestView f_;
};

py::array_t<std::uint8_t> gaussian(const py::array& image, int ksize, bool binary) {
    if (ksize < 9 || ksize % 2 == 0) throw NativeError("nfiq2_gaussian_blur: ksize must be odd and >= 9");
    const nf::Grey g = grey_of(image, "nfiq2_gaussian_blur");
    if (binary)
        for (std::uint8_t p : g.pixels)
            if (p != 0 && p != 255) throw NativeError("nfiq2_gaussian_blur: binary image must hold only 0 and 255");
    std::vector<std::uint8_t> out;
    {
        py::gil_scoped_release release;
        out = nf::gaussian_blur(g.pixels.data(), g.width, g.height, ksize, binary);
    }
    return to_array(out, {g.height, g.width});
}

py::array_t<std::uint8_t> erode(const py::array& image) {
    const nf::Grey g = grey_of(image, "nfiq2_erode5");
    std::vector<std::uint8_t> out;
    {
        py::gil_scoped_release release;
        out = nf::erode5(g.pixels.data(), g.width, g.height);
    }
    return to_array(out, {g.height, g.width});
}

int otsu(const py::array& image) {
    const nf::Grey g = grey_of(image, "nfiq2_otsu");
    py::gil_scoped_release release;
    return nf::otsu_threshold(g.pixels.data(), g.pixels.size());
}

py::array_t<std::uint8_t> rotated(const py::array& image, int top, int left, double angle, bool pad) {
    const nf::Grey g = grey_of(image, "nfiq2_rotated_window");
    nf::Window w;
    nf::rotated_window(g, top, left, angle, pad, w);
    return to_array(std::vector<std::uint8_t>(w.begin(), w.end()), {36, 36});
}

py::dict minutiae_steps(const py::array& image) {
    nf::Grey g = grey_of(image, "minutiae_steps");
    namespace mn = bqat::minutiae;
    py::dict d;
    nf::LocalFeatures local;
    nf::Roi roi;
    mn::OrientationField field;
    std::vector<float> enhanced;
    double period;
    {
        py::gil_scoped_release release;
        local = nf::local_features(g);
        roi = nf::roi(g);
        field = mn::orientation_field(g);
        period = mn::ridge_period(local);
        enhanced = mn::enhance(g, field, period, roi.mask);
    }
    d["angle"] = to_array(field.angle, {field.rows, field.cols});
    d["coherence"] = to_array(field.coherence, {field.rows, field.cols});
    d["energy"] = to_array(field.energy, {field.rows, field.cols});
    d["period"] = period;
    d["enhanced"] = to_array(enhanced, {g.height, g.width});
    return d;
}

py::dict minutiae_extract(const py::array& image, const py::dict& overrides) {
    nf::Grey g = grey_of(image, "minutiae_extract");
    bqat::minutiae::Params p;
    for (auto item : overrides) {
        const std::string key = py::str(item.first);
        const double v = py::cast<double>(item.second);
        if (key == "along_sigma") p.along_sigma = v;
        else if (key == "along_taps") p.along_taps = static_cast<int>(v);
        else if (key == "across_sigma") p.across_sigma = v;
        else if (key == "across_taps") p.across_taps = static_cast<int>(v);
        else if (key == "min_roi_share") p.min_roi_share = v;
        else if (key == "min_coherence") p.min_coherence = v;
        else if (key == "border_cells") p.border_cells = static_cast<int>(v);
        else if (key == "image_margin") p.image_margin = static_cast<int>(v);
        else if (key == "reach_dot") p.reach_dot = v;
        else if (key == "reach_spur") p.reach_spur = v;
        else if (key == "reach_lake") p.reach_lake = v;
        else if (key == "gap") p.gap = v;
        else if (key == "period") p.period = v;
        else if (key == "look") p.look = v;
        else if (key == "min_energy") p.min_energy = v;
        else throw NativeError("minutiae_extract: unknown setting " + key);
    }
    bqat::minutiae::Minutiae found;
    {
        py::gil_scoped_release release;
        const nf::LocalFeatures local = nf::local_features(g);
        const nf::Roi roi = nf::roi(g);
        found = bqat::minutiae::extract(g, local, roi, p);
    }
    py::dict m;
    const py::ssize_t count = static_cast<py::ssize_t>(found.x.size());
    m["x"] = to_array(found.x, {count});
    m["y"] = to_array(found.y, {count});
    m["angle"] = to_array(found.angle, {count});
    m["kind"] = to_array(found.kind, {count});
    m["quality"] = to_array(found.quality, {count});
    return m;
}

py::array_t<std::uint8_t> thin(const py::array& bits) {
    nf::Grey g = grey_of(bits, "minutiae_thin");
    for (auto& p : g.pixels) p = p != 0;
    {
        py::gil_scoped_release release;
        bqat::minutiae::thin(g.pixels, g.width, g.height);
    }
    return to_array(g.pixels, {g.height, g.width});
}

py::array_t<std::uint8_t> crossing_numbers(const py::array& bits) {
    nf::Grey g = grey_of(bits, "minutiae_crossing_numbers");
    for (auto& p : g.pixels) p = p != 0;
    std::vector<std::uint8_t> out(g.pixels.size(), 0);
    for (int y = 0; y < g.height; ++y)
        for (int x = 0; x < g.width; ++x)
            if (g.pixels[static_cast<std::size_t>(y) * g.width + x])
                out[static_cast<std::size_t>(y) * g.width + x] = static_cast<std::uint8_t>(
                    bqat::minutiae::crossing_number(g.pixels, g.width, g.height, x, y));
    return to_array(out, {g.height, g.width});
}

py::bytes wsq_encode(const py::array& image, double bitrate, double ppi) {
    const auto view = image_view(image, "wsq_encode", true);
    std::vector<std::uint8_t> data;
    {
        py::gil_scoped_release release;
        data = bqat::wsq::encode(view, bitrate, ppi);
    }
    return py::bytes(reinterpret_cast<const char*>(data.data()), data.size());
}

py::array_t<float> wsq_analyse(const py::array& plane, bool invert_x, bool invert_y) {
    const auto values = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(plane);
    if (!values || values.ndim() != 2 || values.shape(0) == 0 || values.shape(1) == 0)
        throw NativeError("wsq_analyse: plane must be a non-empty 2-D float array, got shape " +
                          shape_of(plane));
    py::array_t<float> out({values.shape(0), values.shape(1)});
    std::copy(values.data(), values.data() + values.size(), out.mutable_data());
    bqat::wsq::Plane target{out.mutable_data(), static_cast<int>(values.shape(1)),
                            static_cast<int>(values.shape(0)), values.shape(1)};
    {
        py::gil_scoped_release release;
        bqat::wsq::analyse(target, invert_x, invert_y);
    }
    return out;
}

}  // namespace

namespace bqat {

void bind_fingerprint(py::module_& m) {
    using namespace pybind11::literals;
    m.def("nfiq2_frame", &frame, "image"_a,
          R"doc(NFIQ 2's white-frame trim of a grey uint8 image: dict ok, top, bottom, left, right
(inclusive) and reason. Rows, then columns (over all rows), whose mean grey level is above 250
are cut from each edge; ok is false when nothing, or less than 2 x 2 px, is left.)doc");
    m.def("nfiq2_assess", &assess, "image"_a, py::kw_only(), "details"_a = false,
          R"doc(Every NFIQ 2 native feature of a trimmed grey uint8 fingerprint at 500 ppi, as a dict.

Keys are NIST's names (FDA_Bin10_0 ... RVUP_Bin10_StdDev, Mu, MMB, ImgProcROIArea_Mean, the
OrientationMap coherences, the FingerJetFX-named minutiae features from our own extractor) and
the actionable feedback (UniformImage, EmptyImageOrContrastTooLow,
FingerprintImageWithMinutiae, SufficientFingerprintForeground). `minutiae`: dict of arrays x, y
(px), angle (radians, ridge direction), kind (1 ending, 2 bifurcation) and quality (0-100).
`errors`: {feature family: reason} where NIST would refuse the feature (no values, or FDA on
fewer than 10 blocks). With `details`, the per-block values, maps and the ROI mask too.)doc");
    py::class_<Forest>(m, "Nfiq2Forest",
                       R"doc(NFIQ 2's random forest from the arrays of nfiq2_rf.npz (kept, not copied),
checked once: every tree within the nodes, every child within its tree, every feature index
below `features`.)doc")
        .def(py::init<const Forest::I16&, const Forest::F32&, const Forest::I32&, const Forest::I32&,
                      const Forest::F32&, const Forest::I32&, const Forest::I32&, int>(),
             "var"_a, "thr"_a, "left"_a, "right"_a, "value"_a, "tree_off"_a, "tree_n"_a, py::kw_only(),
             "features"_a)
        .def_property_readonly("features", &Forest::features)
        .def("votes", &Forest::votes, "x"_a,
             R"doc(The NFIQ 2 score of feature vector `x` (float32): the number of trees whose
leaf is class 1, going left at a node when x[var] <= thr (NaN goes right).)doc");
    m.def("nfiq2_gaussian_blur", &gaussian, "image"_a, "ksize"_a, py::kw_only(), "binary"_a = false,
          R"doc(OpenCV's bit-exact 8-bit Gaussian blur of a grey uint8 image, odd ksize >= 9 (OpenCV
uses fixed tables below), sigma 0.15 ksize + 0.35, reflect-101 borders. With `binary` the
image must hold only 0 and 255 and its row pass goes by runs (the result is the same).)doc");
    m.def("nfiq2_erode5", &erode, "image"_a, "5 x 5 grey erosion; pixels outside are ignored.");
    m.def("nfiq2_otsu", &otsu, "image"_a, "Otsu's threshold of a grey uint8 image (OpenCV's).");
    m.def("minutiae_steps", &minutiae_steps, "image"_a,
          R"doc(The intermediate results of the minutiae extractor on a trimmed grey image: the
8 x 8 cell orientation field (angle, coherence, energy), the ridge period, and the enhanced
image over NIST's ROI (ridges negative).)doc");
    m.def("minutiae_extract", &minutiae_extract, "image"_a, "settings"_a = py::dict(),
          R"doc(Our minutiae of a trimmed grey image at 500 ppi (dict of arrays x, y, angle, kind,
quality), with the extractor's settings overridden by name (for experiments).)doc");
    m.def("minutiae_thin", &thin, "bits"_a,
          "Zhang-Suen thinning of a binary uint8 image (non-zero = ridge), staircases removed.");
    m.def("minutiae_crossing_numbers", &crossing_numbers, "bits"_a,
          "Crossing number of each set pixel of a binary uint8 image (0 elsewhere).");
    m.def("nfiq2_rotated_window", &rotated, "image"_a, "top"_a, "left"_a, "angle"_a, "pad"_a,
          R"doc(NFIQ 2's rotated 36 x 36 window at (top, left) (OpenCV 4.6 nearest warp).)doc");
    m.def("wsq_encode", &wsq_encode, "image"_a, py::kw_only(), "bitrate"_a, "ppi"_a,
          R"doc(The WSQ file (FBI IAFIS-IC-0110 v3.1) of a grey uint8 image (H x W, any strides), as bytes.

The pixels are normalised by the mean and the larger distance to an extreme, split by the 9/7
filter bank into the standard's 64 subbands (60 coded), and quantised with the standard's bin
widths for `bitrate` (bits per pixel), scaled together so that the whole file comes within
about 1 % of bitrate x H x W / 8 bytes where the image allows; Huffman tables from the symbol
counts, block 1 with table 0, blocks 2 and 3 with table 1. The NISTCOM comment records `ppi`
(rounded) and the requested bit rate. Sides 49 to 65535 px (below 49 some band to split is
under 4 samples, which NBIS's decoder does not always rebuild), bitrate 0.1 to 8, ppi 1 to
100000.)doc");
    m.def("wsq_analyse", &wsq_analyse, "plane"_a, py::kw_only(), "invert_x"_a = false,
          "invert_y"_a = false,
          R"doc(One level of WSQ's analysis filter bank on a 2-D float32 array (a new array).

Each row, then each column, becomes its low-pass half (ceil(n / 2): the 9-tap filter at the even
samples) then its high-pass half (floor(n / 2): the 7-tap filter at the odd samples), with
whole-sample symmetric extension; an inverted axis puts the high-pass half first.)doc");
    m.attr("WSQ_BITRATE_RANGE") = py::make_tuple(bqat::wsq::kMinBitrate, bqat::wsq::kMaxBitrate);
}

}  // namespace bqat
