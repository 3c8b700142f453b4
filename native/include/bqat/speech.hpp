// Speech signal measures that touch every sample: ITU-T P.56 active speech level (method B),
// ITU-R BS.1770-4 gated loudness, sample statistics (peak, full-scale samples, DC), the WADA-SNR
// statistics and a Welch power spectrum. Signals are mono, in full-scale units (|x| <= 1).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bqat/image.hpp"  // NativeError

namespace bqat {

// `count` float32 or float64 samples `stride` bytes apart in caller-owned memory.
struct SignalView {
    const char* data = nullptr;
    std::size_t count = 0;
    std::ptrdiff_t stride = 0;
    bool is_double = false;
};

// ITU-T P.56 method B, as the ITU-T STL speech voltmeter (G.191 sv56) defines it: envelope of two
// exponential smoothings (T = 30 ms), 15 thresholds c_j = 2^(j-15) (one 16-bit step up to half
// full scale), hangover 200 ms, margin 15.9 dB. The active level is where A(C) - C = M on the
// straight line between the two thresholds that bracket the margin (solved exactly, where the STL
// bisects to within 0.5 dB). dB are dBov: 10 log10 of a mean square with full scale = 1.
struct ActiveLevel {
    double level_db;           // active speech level; NaN when no speech is active
    double activity;           // active share of the samples, 0..1 (0 when none is active)
    double long_term_db;       // 10 log10 of the mean square over all samples (-inf for zeros)
    std::array<std::int64_t, 15> counts;  // samples active for each threshold c_j
};
ActiveLevel active_speech_level(const SignalView& x, double sample_rate);

// ITU-R BS.1770-4: K-weighting (pre-filter shelf + RLB high-pass; the analogue prototypes that
// give the standard's 48 kHz coefficients, designed for any rate by the bilinear transform, the
// RLB numerator scaled to keep the 48 kHz table's pass-band gain),
// 400 ms blocks every 100 ms (block j spans sample round(0.1 j fs) to round(0.1 (j + 4) fs)),
// absolute gate -70 LKFS, relative gate -10 LU, mono channel weight 1.
struct Loudness {
    double lufs;                 // NaN when no block passes the gates (or none fits)
    std::int64_t blocks;         // gating blocks that fit in the signal
    std::int64_t gated_blocks;   // blocks that passed both gates
};
Loudness loudness(const SignalView& x, double sample_rate);

// {b0, b1, b2, a1, a2} (a0 = 1) of the K-weighting pre-filter and of the RLB high-pass.
struct Biquad {
    double b0, b1, b2, a1, a2;
};
std::array<Biquad, 2> k_weighting(double sample_rate);

// One pass: max |x|, samples with |x| >= full_scale, sum and sum of squares.
struct SampleStats {
    double peak;
    std::int64_t at_full_scale;
    double sum;
    double sum_squares;
    std::int64_t count;
};
SampleStats sample_stats(const SignalView& x, double full_scale);

// WADA-SNR's statistics (Kim and Stern 2008) of the peak-normalised magnitude z = |x| / peak,
// floored at `floor`: mean z and mean ln z. Zero peak: both NaN.
struct WadaStats {
    double peak;
    double mean_abs;
    double mean_log_abs;
};
WadaStats wada_statistics(const SignalView& x, double floor);

// Welch's averaged periodogram: segments of n_fft samples (a power of two, 2..2^24) every
// n_fft / 2, each with its mean removed and a periodic Hann window applied; returns the mean
// |X_k|^2 for k = 0 .. n_fft / 2 (unscaled, one-sided without doubling). Needs count >= n_fft.
std::vector<double> power_spectrum(const SignalView& x, std::size_t n_fft);

}  // namespace bqat
