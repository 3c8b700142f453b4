// The speech kernels' bindings: 1-D float32/float64 NumPy views (any stride, no copies), the GIL
// released while a kernel runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "bqat/modalities.hpp"
#include "bqat/numpy_views.hpp"
#include "bqat/speech.hpp"

namespace py = pybind11;
using bqat::NativeError;

namespace {

bqat::SignalView signal_view(const py::array& a, const char* what) {
    if (a.dtype().kind() != 'f' || (a.itemsize() != 4 && a.itemsize() != 8))
        throw NativeError(std::string(what) + ": signal must be float32 or float64, got " +
                          std::string(py::str(a.dtype())));
    if (a.ndim() != 1)
        throw NativeError(std::string(what) + ": signal must be 1-D, got shape " + bqat::shape_of(a));
    bqat::SignalView v;
    v.data = static_cast<const char*>(a.data());
    v.count = static_cast<std::size_t>(a.shape(0));
    v.stride = a.strides(0);
    v.is_double = a.itemsize() == 8;
    return v;
}

// NaN (not measurable: silence, too short) as None.
py::object nullable(double value) {
    return std::isnan(value) ? py::object(py::none()) : py::object(py::float_(value));
}

py::dict active_speech_level_py(const py::array& signal, double sample_rate) {
    const auto view = signal_view(signal, "active_speech_level");
    bqat::ActiveLevel r;
    {
        py::gil_scoped_release release;
        r = bqat::active_speech_level(view, sample_rate);
    }
    py::dict d;
    d["level_db"] = nullable(r.level_db);
    d["activity"] = r.activity;
    d["long_term_db"] = r.long_term_db;
    d["counts"] = py::cast(std::vector<std::int64_t>(r.counts.begin(), r.counts.end()));
    return d;
}

py::dict loudness_py(const py::array& signal, double sample_rate) {
    const auto view = signal_view(signal, "loudness");
    bqat::Loudness r;
    {
        py::gil_scoped_release release;
        r = bqat::loudness(view, sample_rate);
    }
    py::dict d;
    d["lufs"] = nullable(r.lufs);
    d["blocks"] = r.blocks;
    d["gated_blocks"] = r.gated_blocks;
    return d;
}

py::tuple k_weighting_py(double sample_rate) {
    const auto filters = bqat::k_weighting(sample_rate);
    py::list out;
    for (const auto& f : filters)
        out.append(py::make_tuple(py::make_tuple(f.b0, f.b1, f.b2), py::make_tuple(1.0, f.a1, f.a2)));
    return py::tuple(out);
}

py::dict sample_stats_py(const py::array& signal, double full_scale) {
    const auto view = signal_view(signal, "sample_stats");
    bqat::SampleStats s;
    {
        py::gil_scoped_release release;
        s = bqat::sample_stats(view, full_scale);
    }
    py::dict d;
    d["peak"] = s.peak;
    d["at_full_scale"] = s.at_full_scale;
    d["sum"] = s.sum;
    d["sum_squares"] = s.sum_squares;
    d["count"] = s.count;
    return d;
}

py::dict wada_statistics_py(const py::array& signal, double floor) {
    const auto view = signal_view(signal, "wada_statistics");
    bqat::WadaStats s;
    {
        py::gil_scoped_release release;
        s = bqat::wada_statistics(view, floor);
    }
    py::dict d;
    d["peak"] = s.peak;
    d["mean_abs"] = nullable(s.mean_abs);
    d["mean_log_abs"] = nullable(s.mean_log_abs);
    return d;
}

py::array_t<double> power_spectrum_py(const py::array& signal, std::int64_t n_fft) {
    const auto view = signal_view(signal, "power_spectrum");
    if (n_fft < 2) throw NativeError("power_spectrum: n_fft must be a power of two >= 2, got " + std::to_string(n_fft));
    std::vector<double> power;
    {
        py::gil_scoped_release release;
        power = bqat::power_spectrum(view, static_cast<std::size_t>(n_fft));
    }
    py::array_t<double> out(static_cast<py::ssize_t>(power.size()));
    std::copy(power.begin(), power.end(), out.mutable_data());
    return out;
}

}  // namespace

namespace bqat {

void bind_speech(py::module_& m) {
    using namespace pybind11::literals;
    m.def("active_speech_level", &active_speech_level_py, "signal"_a, "sample_rate"_a,
          R"doc(ITU-T P.56 method B on a mono signal (float32/float64 1-D, full scale = 1).

Returns {level_db: active speech level in dBov (None when no speech is active), activity: active
share 0..1, long_term_db: RMS level in dBov, counts: active samples per threshold 2^(j-15)}.
Envelope and thresholds as the ITU-T STL speech voltmeter (T = 30 ms, hangover 200 ms, margin
15.9 dB); the crossing of the margin is interpolated exactly between the bracketing thresholds.)doc");
    m.def("loudness", &loudness_py, "signal"_a, "sample_rate"_a,
          R"doc(ITU-R BS.1770-4 gated loudness of a mono signal (channel weight 1).

Returns {lufs (None when no 400 ms block passes the gates), blocks, gated_blocks}.)doc");
    m.def("k_weighting", &k_weighting_py, "sample_rate"_a,
          "BS.1770-4 K-weighting at `sample_rate`: ((b, a) of the pre-filter, (b, a) of the RLB "
          "high-pass).");
    m.def("sample_stats", &sample_stats_py, "signal"_a, py::kw_only(), "full_scale"_a = 1.0,
          "One pass: {peak: max |x|, at_full_scale: samples with |x| >= full_scale, sum, "
          "sum_squares, count}.");
    m.def("wada_statistics", &wada_statistics_py, "signal"_a, py::kw_only(), "floor"_a = 1e-10,
          "WADA-SNR statistics of z = max(|x| / peak, floor): {peak, mean_abs: mean z, "
          "mean_log_abs: mean ln z} (None when the peak is 0).");
    m.def("power_spectrum", &power_spectrum_py, "signal"_a, "n_fft"_a,
          "Welch's mean periodogram |X_k|^2, k = 0..n_fft/2: segments of n_fft (a power of two) "
          "every n_fft/2, mean removed, periodic Hann window; unscaled.");
}

}  // namespace bqat
