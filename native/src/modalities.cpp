// One line per modality whose kernels have bindings of their own (see bqat/modalities.hpp).
#include "bqat/modalities.hpp"

namespace bqat {

void bind_speech(pybind11::module_& m);

void bind_iris(pybind11::module_& m);

void bind_fingerprint(pybind11::module_& m);

void bind_modalities(pybind11::module_& m) {
    (void)m;
    bind_iris(m);
    bind_fingerprint(m);
    bind_speech(m);
}

}  // namespace bqat
