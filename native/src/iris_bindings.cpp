// bqat._native iris kernels: arguments checked here, kernels run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "bqat/iris.hpp"
#include "bqat/numpy_views.hpp"

namespace py = pybind11;

namespace {

bqat::IrisCircle circle(const std::array<double, 3>& c) { return {c[0], c[1], c[2]}; }

py::dict location_dict(const bqat::IrisLocation& l) {
    py::dict d;
    d["found"] = l.found;
    d["reason"] = l.found ? py::object(py::none()) : py::object(py::str(l.reason));
    d["pupil"] = py::make_tuple(l.pupil.x, l.pupil.y, l.pupil.r);
    d["iris"] = py::make_tuple(l.iris.x, l.iris.y, l.iris.r);
    d["pupil_step"] = l.pupil_step;
    d["iris_step"] = l.iris_step;
    return d;
}

py::dict measures_dict(const bqat::IrisMeasures& m) {
    py::dict d, errors;
    auto put = [&](const char* name, const bqat::IrisValue& v) {
        if (v.error.empty()) {
            d[name] = v.value;
        } else {
            d[name] = py::none();
            errors[name] = v.error;
        }
    };
    put("usable_iris_area", m.usable_iris_area);
    put("iris_sclera_contrast", m.iris_sclera_contrast);
    put("iris_pupil_contrast", m.iris_pupil_contrast);
    put("pupil_boundary_circularity", m.pupil_boundary_circularity);
    put("grey_scale_utilisation", m.grey_scale_utilisation);
    d["iris_radius"] = m.iris_radius;
    d["pupil_iris_ratio"] = m.pupil_iris_ratio;
    d["iris_pupil_concentricity"] = m.iris_pupil_concentricity;
    d["margin_adequacy"] = m.margin_adequacy;
    auto grey = [](double v) { return v < 0 ? py::object(py::none()) : py::object(py::float_(v)); };
    d["pupil_grey"] = grey(m.pupil_grey);
    d["iris_grey"] = grey(m.iris_grey);
    d["sclera_grey"] = grey(m.sclera_grey);
    d["specular_threshold"] = m.specular_threshold;
    py::array_t<std::uint8_t> mask({m.mask_angles, m.mask_radii});
    std::copy(m.mask.begin(), m.mask.end(), mask.mutable_data());
    d["occlusion"] = mask;
    d["errors"] = errors;
    return d;
}

py::dict py_iris_locate(const py::array& image) {
    const auto view = bqat::image_view(image, "iris_locate", true);
    bqat::IrisLocation l;
    {
        py::gil_scoped_release release;
        l = bqat::iris_locate(view);
    }
    return location_dict(l);
}

py::dict py_iris_measures(const py::array& image, const std::array<double, 3>& pupil,
                       const std::array<double, 3>& iris) {
    const auto view = bqat::image_view(image, "iris_measures", true);
    bqat::IrisMeasures m;
    {
        py::gil_scoped_release release;
        m = bqat::iris_measures(view, circle(pupil), circle(iris));
    }
    return measures_dict(m);
}

py::list py_iris_candidates(const py::array& image) {
    const auto view = bqat::image_view(image, "iris_candidates", true);
    std::vector<bqat::IrisCandidate> found;
    {
        py::gil_scoped_release release;
        found = bqat::iris_candidates(view);
    }
    py::list out;
    for (const auto& c : found) {
        py::dict d;
        d["blob"] = py::make_tuple(c.blob.x, c.blob.y, c.blob.r);
        d["blob_inner"] = c.blob_inner;
        d["blob_ring"] = c.blob_ring;
        d["pupil"] = py::make_tuple(c.pupil.x, c.pupil.y, c.pupil.r);
        d["iris"] = py::make_tuple(c.iris.x, c.iris.y, c.iris.r);
        d["pupil_coarse"] = c.pupil_coarse;
        d["pupil_inner"] = c.pupil_inner;
        d["iris_inner"] = c.iris_inner;
        d["pupil_support"] = c.pupil_support;
        d["dark_outside"] = c.dark_outside;
        d["score"] = c.score;
        d["iris_coarse"] = c.iris_coarse;
        d["pupil_step"] = c.pupil_step;
        d["iris_step"] = c.iris_step;
        d["rejected"] = c.rejected.empty() ? py::object(py::none()) : py::object(py::str(c.rejected));
        out.append(d);
    }
    return out;
}

double py_iris_sharpness(const py::array& image) {
    const auto view = bqat::image_view(image, "iris_sharpness", true);
    py::gil_scoped_release release;
    return bqat::iris_sharpness(view);
}

py::dict py_iris_assess(const py::array& image) {
    const auto view = bqat::image_view(image, "iris_assess", true);
    bqat::IrisAssessment a;
    {
        py::gil_scoped_release release;
        a = bqat::iris_assess(view);
    }
    py::dict d = location_dict(a.location);
    d["measures"] = a.measured ? py::object(measures_dict(a.measures)) : py::object(py::none());
    d["sharpness"] = a.sharpness;
    return d;
}

}  // namespace

namespace bqat {

void bind_iris(py::module_& m) {
    using namespace pybind11::literals;

    m.def("iris_locate", &py_iris_locate, "image"_a,
          R"doc(The pupil and iris circles of a grey uint8 close-up of one eye (H x W), as a dict.

found (bool), reason (why no eye was accepted, else None), pupil and iris as (x, y, r) in pixel-
centre coordinates of the image (pixel row i, column j at x = j, y = i), pupil_step and
iris_step (grey-level step across each boundary at full size). Dark round regions are scored by a
centre-surround box contrast after specular highlights are flattened; about the four best, the
pupil circle maximises the radial step of the mean grey on full circles (weighted towards a dark
inside, highlights left out), or, for a pupil more than half hidden by an eyelid, is the
consensus circle (RANSAC) of boundary points on rays from the dark region, and the iris circle
the step on the lateral arcs (-30..45 degrees each side, the pupil left out, trimmed where a lid
hides them) with its centre within 0.2 iris radii of the pupil's, thin rings of dilated pupils
searched on a finer level; both are searched coarse to fine on a pyramid of 2 x 2 means,
sub-pixel at full size, and the pupil is refitted by least squares to its boundary points. See
native/src/iris.cpp.)doc");

    m.def("iris_candidates", &py_iris_candidates, "image"_a,
          R"doc(Diagnostics of iris_locate: each dark round region tried as a pupil (best first),
with the circles it led to, their boundary steps and why it was rejected (None: plausible).)doc");

    m.def("iris_measures", &py_iris_measures, "image"_a, "pupil"_a, "iris"_a,
          R"doc(ISO/IEC 29794-6 measures of a grey uint8 eye image given pupil and iris (x, y, r).

Returns usable_iris_area, iris_sclera_contrast, iris_pupil_contrast, pupil_boundary_circularity,
grey_scale_utilisation (None where they cannot be computed, with the reason under errors),
iris_radius, pupil_iris_ratio, iris_pupil_concentricity, margin_adequacy, the region medians
pupil_grey, iris_grey, sclera_grey, specular_threshold, and occlusion: the 256 x 32 polar
eyelid/eyelash mask about the iris centre (1 = occluded or outside the image; angle cell a spans
[a, a + 1) x 2 pi / 256 from +x towards +y, radius cell k spans [k, k + 1) / 32 of the way from
the pupil circle to the iris circle). The pupil circle must lie inside the iris circle.)doc");

    m.def("iris_sharpness", &py_iris_sharpness, "image"_a,
          R"doc(ISO/IEC 29794-6 sharpness of a grey uint8 image, 0..100.

F is the image filtered with the standard's 9 x 9 zero-sum kernel, taken where the kernel fits,
every 4th row and column from (4, 4); power = sum(F^2) / (W H) and sharpness =
100 power^2 / (power^2 + 180000^2).)doc");

    m.def("iris_assess", &py_iris_assess, "image"_a,
          R"doc(iris_locate, then iris_measures on the circles found (measures: None without an
eye), and iris_sharpness, sharing one image pyramid; one dict.)doc");
}

}  // namespace bqat
