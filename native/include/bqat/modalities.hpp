// The bindings of each modality's kernels live beside them (native/src/<modality>_bindings.cpp);
// bindings.cpp calls bind_modalities once, after the shared kernels and the error translator.
#pragma once

#include <pybind11/pybind11.h>

namespace bqat {

// Adds every modality's kernels to the module; defined in native/src/modalities.cpp.
void bind_modalities(pybind11::module_& m);

}  // namespace bqat
