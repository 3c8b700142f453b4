// One line per modality whose kernels have bindings of their own (see bqat/modalities.hpp).
#include "bqat/modalities.hpp"

namespace bqat {

void bind_modalities(pybind11::module_& m) { (void)m; }

}  // namespace bqat
