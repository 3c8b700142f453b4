// Views of the caller's NumPy memory for the bindings (no copies), with precise errors.
#pragma once

#include <pybind11/numpy.h>

#include <string>

#include "bqat/image.hpp"

namespace bqat {

namespace py = pybind11;

inline std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

inline ImageView image_view(const py::array& a, const char* what, bool grey_only) {
    if (a.dtype().kind() != 'u' || a.itemsize() != 1)
        throw NativeError(std::string(what) + ": image must be uint8, got " +
                          std::string(py::str(a.dtype())));
    const bool grey_3d = a.ndim() == 3 && a.shape(2) == 1;
    if (grey_only ? !(a.ndim() == 2 || grey_3d)
                  : !(a.ndim() == 2 || (a.ndim() == 3 && a.shape(2) >= 1 && a.shape(2) <= 4)))
        throw NativeError(std::string(what) + ": image must be " +
                          (grey_only ? "H x W (grey)" : "H x W or H x W x C with C in 1..4") +
                          ", got shape " + shape_of(a));
    if (a.shape(0) == 0 || a.shape(1) == 0)
        throw NativeError(std::string(what) + ": image is empty, shape " + shape_of(a));
    ImageView v;
    v.data = static_cast<const std::uint8_t*>(a.data());
    v.height = static_cast<int>(a.shape(0));
    v.width = static_cast<int>(a.shape(1));
    v.channels = a.ndim() == 3 ? static_cast<int>(a.shape(2)) : 1;
    v.row_stride = a.strides(0);
    v.pixel_stride = a.strides(1);
    v.channel_stride = a.ndim() == 3 ? a.strides(2) : 1;
    return v;
}

}  // namespace bqat
