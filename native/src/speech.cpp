#include "bqat/speech.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <string>

namespace bqat {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Calls `body(sample)` for every sample of `x` in order, reading it as its stored type; a
// contiguous signal takes a plain pointer walk that the compiler can unroll.
template <typename T, typename Body>
void walk(const SignalView& x, Body& body) {
    if (x.stride == static_cast<std::ptrdiff_t>(sizeof(T))) {
        const T* p = reinterpret_cast<const T*>(x.data);
        for (std::size_t i = 0; i < x.count; ++i) body(static_cast<double>(p[i]));
    } else {
        for (std::size_t i = 0; i < x.count; ++i)
            body(static_cast<double>(
                *reinterpret_cast<const T*>(x.data + static_cast<std::ptrdiff_t>(i) * x.stride)));
    }
}

template <typename Body>
void for_each_sample(const SignalView& x, Body&& body) {
    if (x.is_double) walk<double>(x, body);
    else walk<float>(x, body);
}

double sample_at(const SignalView& x, std::size_t i) {
    const char* p = x.data + static_cast<std::ptrdiff_t>(i) * x.stride;
    return x.is_double ? *reinterpret_cast<const double*>(p)
                       : static_cast<double>(*reinterpret_cast<const float*>(p));
}

void check_signal(const SignalView& x, const char* what) {
    if (x.count == 0) throw NativeError(std::string(what) + ": signal is empty");
}

void check_rate(double sample_rate, const char* what) {
    if (!std::isfinite(sample_rate) || sample_rate <= 0)
        throw NativeError(std::string(what) + ": sample_rate must be finite and positive, got " +
                          std::to_string(sample_rate));
}

// P.56 constants (ITU-T P.56 method B; the values of the STL speech voltmeter).
constexpr double kSmoothingS = 0.03;
constexpr double kHangoverS = 0.2;
constexpr double kMarginDb = 15.9;
constexpr int kThresholds = 15;

// How many thresholds c_j = 2^(j - 15) the envelope value q reaches: q >= c_j for j < result.
int thresholds_reached(double q) {
    if (!(q >= 0x1p-15)) return 0;  // below the lowest threshold (or NaN)
    std::uint64_t bits;
    std::memcpy(&bits, &q, sizeof bits);
    const int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;  // floor(log2 q), q normal
    return std::min(e + kThresholds + 1, kThresholds);
}

// Sliding maximum over the last `window` values of small non-negative integers.
class SlidingMax {
public:
    explicit SlidingMax(std::size_t window) : window_(window), ring_(window + 1) {}

    int push(std::int64_t t, int value) {
        while (size_ > 0 && ring_[wrap(head_ + size_ - 1)].value <= value) --size_;
        ring_[wrap(head_ + size_)] = {t, value};
        ++size_;
        while (ring_[head_].t + static_cast<std::int64_t>(window_) <= t) {
            head_ = wrap(head_ + 1);
            --size_;
        }
        return ring_[head_].value;
    }

private:
    struct Entry {
        std::int64_t t;
        int value;
    };
    // i < 2 * ring size always: one comparison instead of a division.
    std::size_t wrap(std::size_t i) const { return i >= ring_.size() ? i - ring_.size() : i; }

    std::size_t window_;
    std::vector<Entry> ring_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

// a * b without the C99 Annex G infinity/NaN recovery that std::complex's operator* calls
// out for (__muldc3): the FFT's operands are finite.
inline std::complex<double> mul(std::complex<double> a, std::complex<double> b) {
    return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

// An in-place radix-2 complex FFT of a power-of-two size.
class ComplexFft {
public:
    explicit ComplexFft(std::size_t n) : n_(n), twiddle_(n / 2), reversed_(n) {
        for (std::size_t k = 0; k < n / 2; ++k)
            twiddle_[k] = std::polar(1.0, -2.0 * kPi * static_cast<double>(k) / static_cast<double>(n));
        int bits = 0;
        while ((std::size_t{1} << bits) < n) ++bits;
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t r = 0;
            for (int b = 0; b < bits; ++b)
                if (i & (std::size_t{1} << b)) r |= std::size_t{1} << (bits - 1 - b);
            reversed_[i] = r;
        }
    }

    void operator()(std::vector<std::complex<double>>& a) const {
        for (std::size_t i = 0; i < n_; ++i)
            if (i < reversed_[i]) std::swap(a[i], a[reversed_[i]]);
        for (std::size_t len = 2; len <= n_; len <<= 1) {
            const std::size_t half = len / 2, step = n_ / len;
            for (std::size_t start = 0; start < n_; start += len)
                for (std::size_t k = 0; k < half; ++k) {
                    const auto t = mul(twiddle_[k * step], a[start + k + half]);
                    a[start + k + half] = a[start + k] - t;
                    a[start + k] += t;
                }
        }
    }

private:
    std::size_t n_;
    std::vector<std::complex<double>> twiddle_;
    std::vector<std::size_t> reversed_;
};

}  // namespace

ActiveLevel active_speech_level(const SignalView& x, double sample_rate) {
    check_signal(x, "active_speech_level");
    check_rate(sample_rate, "active_speech_level");
    const double g = std::exp(-1.0 / (sample_rate * kSmoothingS));
    const auto hangover = static_cast<std::size_t>(std::floor(kHangoverS * sample_rate + 0.5));

    // A sample is active for threshold c_j when the envelope reached c_j within the last
    // `hangover` samples or now (the STL's hangover counters, with no hangover before the first
    // crossing): so the count for c_j is the number of samples whose sliding maximum of the
    // envelope over hangover + 1 samples reaches it.
    std::array<std::int64_t, kThresholds + 1> reached{};
    SlidingMax window(hangover + 1);
    double p = 0, q = 0, sq = 0;
    std::int64_t t = 0;
    for_each_sample(x, [&](double v) {
        sq += v * v;
        p = g * p + (1 - g) * std::fabs(v);
        q = g * q + (1 - g) * p;
        ++reached[window.push(t++, thresholds_reached(q))];
    });

    ActiveLevel out{};
    for (int j = kThresholds - 1; j >= 0; --j) out.counts[j] = reached[j + 1] + (j + 1 < kThresholds ? out.counts[j + 1] : 0);
    const double n = static_cast<double>(x.count);
    out.long_term_db = 10 * std::log10(sq / n);
    out.level_db = kNaN;
    out.activity = 0;

    auto level = [&](int j) { return 10 * std::log10(sq / static_cast<double>(out.counts[j])); };
    auto threshold = [](int j) { return 20 * std::log10(std::ldexp(1.0, j - kThresholds)); };
    if (out.counts[0] == 0 || sq <= 0) return out;
    if (level(0) - threshold(0) < kMarginDb) return out;  // below the margin at the lowest: silence
    for (int j = 1; j < kThresholds && out.counts[j] != 0; ++j) {
        const double above = level(j) - threshold(j) - kMarginDb;
        if (above > 0) continue;
        const double below = level(j - 1) - threshold(j - 1) - kMarginDb;  // >= 0
        const double f = below - above > 0 ? below / (below - above) : 0.0;
        out.level_db = level(j - 1) + f * (level(j) - level(j - 1));
        out.activity = std::pow(10.0, (out.long_term_db - out.level_db) / 10);
        break;
    }
    return out;
}

std::array<Biquad, 2> k_weighting(double sample_rate) {
    check_rate(sample_rate, "k_weighting");
    // The analogue prototypes whose bilinear transform at 48 kHz gives BS.1770-4's coefficients.
    const double shelf_f0 = 1681.974450955533, shelf_gain_db = 3.999843853973347;
    const double shelf_q = 0.7071752369554196, shelf_vb_exponent = 0.4996667741545416;
    const double hp_f0 = 38.13547087602444, hp_q = 0.5003270373238773;

    double k = std::tan(kPi * shelf_f0 / sample_rate);
    const double vh = std::pow(10.0, shelf_gain_db / 20), vb = std::pow(vh, shelf_vb_exponent);
    double a0 = 1 + k / shelf_q + k * k;
    const Biquad shelf{(vh + vb * k / shelf_q + k * k) / a0, 2 * (k * k - vh) / a0,
                       (vh - vb * k / shelf_q + k * k) / a0, 2 * (k * k - 1) / a0,
                       (1 - k / shelf_q + k * k) / a0};
    // The table's RLB numerator is [1, -2, 1], not normalised: its pass-band gain is the 48 kHz
    // a0 (+0.04 dB). Scaling by a0(48 kHz) / a0(rate) keeps that gain at every rate.
    auto hp_a0 = [&](double rate) {
        const double kk = std::tan(kPi * hp_f0 / rate);
        return 1 + kk / hp_q + kk * kk;
    };
    k = std::tan(kPi * hp_f0 / sample_rate);
    a0 = hp_a0(sample_rate);
    const double gain = hp_a0(48000.0) / a0;
    const Biquad high_pass{gain, -2 * gain, gain, 2 * (k * k - 1) / a0, (1 - k / hp_q + k * k) / a0};
    return {shelf, high_pass};
}

Loudness loudness(const SignalView& x, double sample_rate) {
    check_signal(x, "loudness");
    check_rate(sample_rate, "loudness");
    const auto filters = k_weighting(sample_rate);
    const Biquad& f1 = filters[0];
    const Biquad& f2 = filters[1];

    // K-weighted energies of the 100 ms steps (step j ends at sample round(0.1 (j + 1) fs));
    // block j is steps j .. j + 3. Filtering and summing in one pass keeps no filtered copy.
    auto boundary = [&](std::int64_t j) {
        return static_cast<std::size_t>(std::llround(0.1 * static_cast<double>(j) * sample_rate));
    };
    std::vector<double> steps;
    std::vector<std::size_t> bounds{0};
    std::int64_t next_step = 1;
    std::size_t next_bound = boundary(1), i = 0;
    double s1 = 0, s2 = 0, r1 = 0, r2 = 0, energy = 0;  // transposed direct form II states
    for_each_sample(x, [&](double v) {
        const double u = f1.b0 * v + s1;
        s1 = f1.b1 * v - f1.a1 * u + s2;
        s2 = f1.b2 * v - f1.a2 * u;
        const double y = f2.b0 * u + r1;
        r1 = f2.b1 * u - f2.a1 * y + r2;
        r2 = f2.b2 * u - f2.a2 * y;
        energy += y * y;
        if (++i == next_bound) {
            steps.push_back(energy);
            bounds.push_back(i);
            energy = 0;
            next_bound = boundary(++next_step);
        }
    });
    Loudness out{kNaN, 0, 0};
    if (steps.size() < 4) return out;
    const std::size_t blocks = steps.size() - 3;
    out.blocks = static_cast<std::int64_t>(blocks);
    std::vector<double> z(blocks);
    for (std::size_t j = 0; j < blocks; ++j)
        z[j] = (steps[j] + steps[j + 1] + steps[j + 2] + steps[j + 3]) /
               static_cast<double>(bounds[j + 4] - bounds[j]);
    auto lkfs = [](double ms) { return -0.691 + 10 * std::log10(ms); };
    auto gated_mean = [&](double gate, std::int64_t* count) {
        double sum = 0;
        std::int64_t used = 0;
        for (double v : z)
            if (v > 0 && lkfs(v) > gate) {
                sum += v;
                ++used;
            }
        if (count) *count = used;
        return used ? sum / static_cast<double>(used) : 0.0;
    };
    std::int64_t absolute = 0;
    const double above_absolute = gated_mean(-70.0, &absolute);
    if (absolute == 0) return out;
    const double relative_gate = std::max(lkfs(above_absolute) - 10.0, -70.0);
    const double gated = gated_mean(relative_gate, &out.gated_blocks);
    if (out.gated_blocks > 0) out.lufs = lkfs(gated);
    return out;
}

SampleStats sample_stats(const SignalView& x, double full_scale) {
    check_signal(x, "sample_stats");
    if (!std::isfinite(full_scale) || full_scale <= 0)
        throw NativeError("sample_stats: full_scale must be finite and positive, got " +
                          std::to_string(full_scale));
    double peak = 0, sum = 0, sum_squares = 0;
    std::int64_t at_full_scale = 0;
    for_each_sample(x, [&](double v) {
        const double a = std::fabs(v);
        peak = std::max(peak, a);
        at_full_scale += a >= full_scale;
        sum += v;
        sum_squares += v * v;
    });
    return {peak, at_full_scale, sum, sum_squares, static_cast<std::int64_t>(x.count)};
}

WadaStats wada_statistics(const SignalView& x, double floor) {
    check_signal(x, "wada_statistics");
    if (!(floor > 0) || !std::isfinite(floor))
        throw NativeError("wada_statistics: floor must be finite and positive, got " +
                          std::to_string(floor));
    double peak = 0;
    for_each_sample(x, [&](double v) { peak = std::max(peak, std::fabs(v)); });
    if (!(peak > 0) || !std::isfinite(peak)) return {peak, kNaN, kNaN};
    // The sum of ln z as the logarithm of a running product, renormalised by its binary exponent
    // every 16 factors: 16 factors >= floor >= 1e-18 stay far above the smallest double, and one
    // log per 16 samples replaces one per sample.
    const int every = floor >= 1e-18 ? 16 : 1;
    double sum = 0, product = 1, exponent = 0;
    int pending = 0;
    const double inverse_peak = 1.0 / peak;
    for_each_sample(x, [&](double v) {
        const double z = std::max(std::fabs(v) * inverse_peak, floor);
        sum += z;
        product *= z;
        if (++pending == every) {
            int e;
            product = std::frexp(product, &e);
            exponent += e;
            pending = 0;
        }
    });
    const double sum_log = std::log(product) + exponent * std::log(2.0);
    const double n = static_cast<double>(x.count);
    return {peak, sum / n, sum_log / n};
}

std::vector<double> power_spectrum(const SignalView& x, std::size_t n_fft) {
    if (n_fft < 2 || n_fft > (std::size_t{1} << 24) || (n_fft & (n_fft - 1)) != 0)
        throw NativeError("power_spectrum: n_fft must be a power of two in 2..2^24, got " +
                          std::to_string(n_fft));
    if (x.count < n_fft)
        throw NativeError("power_spectrum: the signal (" + std::to_string(x.count) +
                          " samples) is shorter than n_fft = " + std::to_string(n_fft));
    const std::size_t half = n_fft / 2, hop = n_fft / 2;
    std::vector<double> window(n_fft), segment(n_fft), power(half + 1, 0.0);
    for (std::size_t i = 0; i < n_fft; ++i)
        window[i] = 0.5 - 0.5 * std::cos(2 * kPi * static_cast<double>(i) / static_cast<double>(n_fft));
    // A real FFT of n_fft points as a complex FFT of n_fft / 2 points (even + i odd samples).
    const std::size_t m = std::max<std::size_t>(half, 1);
    ComplexFft fft(m);
    std::vector<std::complex<double>> z(m);
    std::vector<std::complex<double>> rotation(half + 1);
    for (std::size_t k = 0; k <= half; ++k)
        rotation[k] = std::polar(1.0, -2.0 * kPi * static_cast<double>(k) / static_cast<double>(n_fft));
    std::size_t segments = 0;
    for (std::size_t start = 0; start + n_fft <= x.count; start += hop, ++segments) {
        double mean = 0;
        for (std::size_t i = 0; i < n_fft; ++i) mean += segment[i] = sample_at(x, start + i);
        mean /= static_cast<double>(n_fft);
        for (std::size_t i = 0; i < n_fft; ++i) segment[i] = (segment[i] - mean) * window[i];
        if (n_fft == 2) {
            power[0] += (segment[0] + segment[1]) * (segment[0] + segment[1]);
            power[1] += (segment[0] - segment[1]) * (segment[0] - segment[1]);
            continue;
        }
        for (std::size_t i = 0; i < m; ++i) z[i] = {segment[2 * i], segment[2 * i + 1]};
        fft(z);
        for (std::size_t k = 0; k <= half; ++k) {
            const auto a = z[k % m], b = std::conj(z[(m - k % m) % m]);
            const auto even = 0.5 * (a + b), d = a - b;
            const std::complex<double> odd(0.5 * d.imag(), -0.5 * d.real());  // (a - b) / 2i
            power[k] += std::norm(even + mul(rotation[k], odd));
        }
    }
    for (double& v : power) v /= static_cast<double>(segments);
    return power;
}

}  // namespace bqat
