// bqat._native: the pybind11 boundary. Arguments are checked here and turned into views of the
// caller's NumPy memory (no copies); kernels run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <string>

#include "bqat/modalities.hpp"
#include "bqat/numpy_views.hpp"
#include "bqat/phash.hpp"
#include "bqat/stats.hpp"
#include "bqat/tensor.hpp"

namespace py = pybind11;
using bqat::NativeError;
using bqat::image_view;
using bqat::shape_of;

namespace {

bqat::TensorSpec tensor_spec(const std::array<float, 3>& mean, const std::array<float, 3>& std,
                             bool swap_rb, const std::string& layout) {
    bqat::TensorSpec spec;
    spec.mean = mean;
    spec.std = std;
    for (float s : std)
        if (!std::isfinite(s) || s == 0.0f) throw NativeError("std values must be finite and non-zero");
    for (float m : mean)
        if (!std::isfinite(m)) throw NativeError("mean values must be finite");
    spec.swap_rb = swap_rb;
    if (layout == "nchw") spec.layout = bqat::Layout::NCHW;
    else if (layout == "nhwc") spec.layout = bqat::Layout::NHWC;
    else throw NativeError("layout must be 'nchw' or 'nhwc', got '" + layout + "'");
    return spec;
}

// The float32 destination: a new 1-sample tensor, or sample `index` of the caller's batch.
std::pair<py::array_t<float>, bqat::TensorOut> tensor_out(const py::object& out, py::ssize_t index,
                                                          int height, int width, bqat::Layout layout) {
    if (height <= 0 || width <= 0)
        throw NativeError("output size must be positive, got " + std::to_string(height) + " x " +
                          std::to_string(width));
    const bool nchw = layout == bqat::Layout::NCHW;
    py::array_t<float> array;
    if (out.is_none()) {
        std::vector<py::ssize_t> shape = nchw ? std::vector<py::ssize_t>{1, 3, height, width}
                                              : std::vector<py::ssize_t>{1, height, width, 3};
        array = py::array_t<float>(shape);
        index = 0;
    } else {
        if (!py::isinstance<py::array>(out)) throw NativeError("out must be a NumPy array");
        auto given = py::reinterpret_borrow<py::array>(out);
        if (given.dtype().kind() != 'f' || given.itemsize() != 4)
            throw NativeError("out must be float32, got " + std::string(py::str(given.dtype())));
        if (!(given.flags() & py::array::c_style) || !given.writeable())
            throw NativeError("out must be C-contiguous and writeable");
        const bool fits = given.ndim() == 4 &&
                          given.shape(nchw ? 1 : 3) == 3 && given.shape(nchw ? 2 : 1) == height &&
                          given.shape(nchw ? 3 : 2) == width;
        if (!fits)
            throw NativeError("out must have shape (N, " +
                              std::string(nchw ? "3, H, W" : "H, W, 3") + ") with H x W = " +
                              std::to_string(height) + " x " + std::to_string(width) +
                              ", got " + shape_of(given));
        if (index < 0 || index >= given.shape(0))
            throw NativeError("index " + std::to_string(index) + " is outside the batch of " +
                              std::to_string(given.shape(0)));
        array = py::reinterpret_borrow<py::array_t<float>>(given);
    }
    bqat::TensorOut target;
    target.data = array.mutable_data() + index * 3 * static_cast<py::ssize_t>(height) * width;
    target.height = height;
    target.width = width;
    return {array, target};
}

py::tuple letterbox(const py::array& image, int out_height, int out_width, std::array<float, 3> mean,
                    std::array<float, 3> std, bool swap_rb, const std::string& layout, float pad,
                    const py::object& out, py::ssize_t index) {
    const auto view = image_view(image, "letterbox", false);
    const auto spec = tensor_spec(mean, std, swap_rb, layout);
    auto [array, target] = tensor_out(out, index, out_height, out_width, spec.layout);
    double scale;
    {
        py::gil_scoped_release release;
        scale = bqat::letterbox(view, spec, pad, target);
    }
    return py::make_tuple(array, scale);
}

py::array_t<float> warp_crop(const py::array& image, const py::array& matrix, int out_height,
                             int out_width, std::array<float, 3> mean, std::array<float, 3> std,
                             bool swap_rb, const std::string& layout, float border,
                             const py::object& out, py::ssize_t index) {
    const auto view = image_view(image, "warp_crop", false);
    const auto m = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(matrix);
    if (!m || m.ndim() != 2 || m.shape(0) != 2 || m.shape(1) != 3)
        throw NativeError("warp_crop: matrix must be a 2 x 3 affine matrix, got shape " + shape_of(matrix));
    double inverse[6];
    for (int i = 0; i < 6; ++i) {
        inverse[i] = m.data()[i];
        if (!std::isfinite(inverse[i])) throw NativeError("warp_crop: matrix must be finite");
    }
    const auto spec = tensor_spec(mean, std, swap_rb, layout);
    auto [array, target] = tensor_out(out, index, out_height, out_width, spec.layout);
    {
        py::gil_scoped_release release;
        bqat::warp_crop(view, inverse, spec, border, target);
    }
    return array;
}

py::dict grey_stats(const py::array& image, int block) {
    const auto view = image_view(image, "grey_stats", true);
    if (block < 1) throw NativeError("grey_stats: block must be >= 1, got " + std::to_string(block));
    bqat::GreyStats s;
    {
        py::gil_scoped_release release;
        s = bqat::grey_stats(view, block);
    }
    py::dict d;
    d["mean"] = s.mean;
    d["std"] = s.std;
    d["dynamic_range"] = s.dynamic_range;
    d["laplacian_variance"] = s.laplacian_variance;
    d["block_mean_std"] = s.block_mean_std;
    d["entropy"] = s.entropy;
    return d;
}

std::uint64_t phash(const py::array& image) {
    const auto view = image_view(image, "phash", true);
    py::gil_scoped_release release;
    return bqat::phash(view);
}

// A 1-D array that takes over `values`' memory instead of copying it.
template <typename T>
py::array_t<T> adopt(std::vector<T>&& values) {
    auto owned = std::make_unique<std::vector<T>>(std::move(values));
    py::capsule free_vector(owned.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
    const auto* vector = owned.release();
    return py::array_t<T>(static_cast<py::ssize_t>(vector->size()), vector->data(), free_vector);
}

py::tuple near_pairs(const py::array& hashes, int max_distance) {
    if (!py::isinstance<py::array_t<std::uint64_t>>(hashes))
        throw NativeError("near_pairs: hashes must be uint64, got " +
                          std::string(py::str(hashes.dtype())));
    if (hashes.ndim() != 1)
        throw NativeError("near_pairs: hashes must be 1-D, got shape " + shape_of(hashes));
    if (max_distance < 0 || max_distance > 32)
        throw NativeError("near_pairs: max_distance must be in 0..32, got " +
                          std::to_string(max_distance));
    bqat::HashView view;
    view.data = static_cast<const std::uint8_t*>(hashes.data());
    view.count = static_cast<std::size_t>(hashes.shape(0));
    view.stride = hashes.strides(0);
    bqat::NearPairs found;
    {
        py::gil_scoped_release release;
        found = bqat::near_pairs(view, max_distance);
    }
    return py::make_tuple(adopt(std::move(found.first)), adopt(std::move(found.second)),
                          adopt(std::move(found.distance)));
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "bqat native kernels: model input tensors, image statistics, perceptual hashes "
              "(GIL released).";

    // bqat.NativeError is a Python class (in the one exception tree); C++ raises it through here.
    static PyObject* native_error = [] {
        py::object cls = py::module_::import("bqat.exceptions").attr("NativeError");
        return cls.release().ptr();
    }();
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const NativeError& e) {
            PyErr_SetString(native_error, e.what());
        }
    });

    using namespace pybind11::literals;
    const std::array<float, 3> zeros{0.f, 0.f, 0.f}, ones{1.f, 1.f, 1.f};

    m.def("letterbox", &letterbox, "image"_a, "out_height"_a, "out_width"_a, py::kw_only(),
          "mean"_a = zeros, "std"_a = ones, "swap_rb"_a = false, "layout"_a = "nchw", "pad"_a = 0.0f,
          "out"_a = py::none(), "index"_a = 0,
          R"doc(Letterbox `image` (uint8 H x W[, C]) into a float32 model tensor in one pass.

The image is resized by one factor s = min(out_width / W, out_height / H) to
floor(W s + 0.5) x floor(H s + 0.5) with bilinear sampling (half-pixel centres, as
cv2.INTER_LINEAR), placed at the top-left corner, and the rest is filled with `pad`. Each value
becomes (p - mean[c]) / std[c]; `swap_rb` swaps channels 0 and 2 (BGR <-> RGB); grey input
(1 channel, or 2 = grey + alpha) is replicated to 3 channels and an alpha channel is ignored. `layout` is 'nchw' or 'nhwc'.
Writes into sample `index` of `out` (float32, N x 3 x H x W or N x H x W x 3) when given.
Returns (tensor, s).)doc");

    m.def("warp_crop", &warp_crop, "image"_a, "matrix"_a, "out_height"_a, "out_width"_a,
          py::kw_only(), "mean"_a = zeros, "std"_a = ones, "swap_rb"_a = false, "layout"_a = "nchw",
          "border"_a = 0.0f, "out"_a = py::none(), "index"_a = 0,
          R"doc(Affine-warped bilinear crop of `image` into a float32 model tensor in one pass.

`matrix` (2 x 3) maps output pixel coordinates to source coordinates (cv2.warpAffine with
WARP_INVERSE_MAP): out(x, y) = image(M [x, y, 1]); bilinear taps outside the image read
`border`. Normalisation, channel order, layout and `out`/`index` as in letterbox.)doc");

    m.def("grey_stats", &grey_stats, "image"_a, py::kw_only(), "block"_a = 32,
          R"doc(Statistics of a grey uint8 image (H x W) in one pass, as a dict.

mean and std (population) of the grey levels; dynamic_range, the mean of the brightest k pixels
minus the mean of the darkest k, k = max(1, floor(N / 100)); laplacian_variance, the population
variance of the 4-neighbour Laplacian with reflect-101 borders (cv2.Laplacian, ksize 1);
block_mean_std, the population std of the means of block x block tiles from the top-left (edge
tiles may be partial); entropy, the Shannon entropy of the 256-bin histogram in bits.)doc");

    m.def("phash", &phash, "image"_a,
          R"doc(The 64-bit DCT perceptual hash of a grey uint8 image (H x W or H x W x 1), as an int.

The image is box-averaged to 32 x 32: output (r, c) is the mean of the source over
[c W / 32, (c + 1) W / 32) x [r H / 32, (r + 1) H / 32), pixels weighted by the fraction they
cover (so images smaller than 32 are replicated the same way). Its 2-D DCT-II is taken
unnormalised along both axes, X[k] = 2 sum_n x[n] cos(pi k (2n + 1) / 64) as
scipy.fft.dct(type=2, norm=None), and of the 8 x 8 lowest frequencies X[0:8, 0:8] (rows:
vertical frequency) bit i = 8 row + col is 1 when the coefficient exceeds their median (the mean
of the two middle values). The hash is sum(bit_i << (63 - i)), so its hex digits read the bits in
the order of the imagehash library's phash string. A constant image hashes to 1 << 63 (0 when
black): every coefficient but the DC term is exactly 0.)doc");

    m.def("near_pairs", &near_pairs, "hashes"_a, "max_distance"_a,
          R"doc(Every pair of positions i < j whose uint64 `hashes` differ in <= `max_distance` bits.

Returns (i, j, distance) as int64, int64 and uint8 arrays sorted by (i, j). `hashes` is 1-D,
any stride; 0 <= max_distance <= 32. Equal values are collapsed first (their positions pair at
distance 0), then a multi-index search over the n unique values: the 64 bits split into
k = max_distance + 1 chunks of near-equal width, two values within max_distance bits agree on at
least one chunk, so only values sharing a chunk value are compared, and a pair is reported from
the first chunk it agrees on. Cost: O(k n log n) to bucket, plus the candidate pairs compared,
n^2 / 2 x sum over chunks of 2^-width for random hashes (1.3% of all pairs at max_distance 6:
~6 x 10^7 for 10^5 hashes; all of them at 15, 8.75 times as many at 32, where chunks of 1-2 bits
no longer separate anything), plus O(P log P) to sort the P pairs reported.)doc");

    bqat::bind_modalities(m);
}
