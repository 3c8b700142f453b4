// Iris localisation and the ISO/IEC 29794-6 iris measures (see bqat/iris.hpp).
//
// Localisation, coarse to fine on a pyramid of 2 x 2 means:
//   1. dark round regions: on the level ~90-180 px on its shorter side, bright islands (specular
//      highlights) are lowered to their surroundings by grey-level reconstruction, then a
//      centre-surround box contrast (integral images) over centres and radii (3-25 % of the
//      shorter side) picks the four best pupil candidates;
//   2. pupil circle: Daugman's integro-differential operator, the radial step of the mean grey on
//      full circles (samples brighter than the iris half-way to white left out), weighted towards
//      a dark inside, searched about each candidate where its radius is 6-12 px; a candidate
//      whose boundary holds on fewer than half of 16 sectors is not a pupil;
//   3. iris circle, about the two best pupils: the plain step on the two lateral arcs (-30..45
//      degrees on each side, clear of most eyelids) with the pupil and its edge left out, radii
//      from 1.1 pupil radii beyond the pupil out to 6.5 pupil radii, the centre within 0.7 pupil
//      radii of the pupil's and within 0.2 of the iris radius (pupils sit a little off-centre);
//   4. the candidate with the largest steps around the darkest pupil wins (checks: steps, an iris
//      brighter than the pupil, ratio 0.1-0.85, pupil inside the iris); its circles are refined
//      level by level to full size (sub-pixel), and the pupil is refitted by least squares to its
//      boundary points (the centre of an elliptical pupil).
// Occlusion: the iris annulus is sampled on a 256 x 32 polar grid about the iris centre; cells far
// from the iris grey level (robust statistics of the lateral iris) that form a region reaching the
// outer boundary are eyelid/eyelash; pixels at or above the specular threshold are highlights.
#include "bqat/iris.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#ifdef BQAT_IRIS_PROFILE  // stage timings for development builds only
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
struct IrisStageTimer {
    const char* name;
    std::clock_t start = std::clock();
    static std::map<std::string, double>& totals() {
        static std::map<std::string, double> t;
        return t;
    }
    ~IrisStageTimer() {
        totals()[name] += 1000.0 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    }
};
#define IRIS_STAGE(name) IrisStageTimer iris_stage_timer_{name}
void iris_profile_dump() {
    for (const auto& [k, v] : IrisStageTimer::totals()) std::printf("  %-12s %8.2f ms\n", k.c_str(), v);
    IrisStageTimer::totals().clear();
}
#else
#define IRIS_STAGE(name)
#endif

namespace bqat {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kNoSkip = 1e9f;
constexpr double kNone = -std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// Image planes and the pyramid

struct Plane {
    int w = 0;
    int h = 0;
    std::vector<float> px;

    const float* row(int y) const { return px.data() + static_cast<std::size_t>(y) * w; }

    // Bilinear value at (x, y) in pixel-centre coordinates; false outside the plane.
    bool sample(double x, double y, float& out) const {
        if (!(x >= 0.0 && y >= 0.0 && x <= w - 1 && y <= h - 1)) return false;
        const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
        const int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
        const float fx = static_cast<float>(x - x0), fy = static_cast<float>(y - y0);
        const float* a = row(y0);
        const float* b = row(y1);
        const float top = a[x0] + fx * (a[x1] - a[x0]);
        const float bottom = b[x0] + fx * (b[x1] - b[x0]);
        out = top + fy * (bottom - top);
        return true;
    }
};

// levels[k] is the image reduced 2^k times by 2 x 2 means: its pixel centre i lies at full-image
// coordinate (i + 0.5) 2^k - 0.5, so lengths scale by exactly 2^k.
struct Pyramid {
    std::vector<Plane> levels;
};

double to_level(double x, int k) { return (x + 0.5) / static_cast<double>(1 << k) - 0.5; }
double from_level(double x, int k) { return (x + 0.5) * static_cast<double>(1 << k) - 0.5; }

void reduce_into(const Plane& s, Plane& p) {
    p.w = s.w / 2;
    p.h = s.h / 2;
    p.px.resize(static_cast<std::size_t>(p.w) * p.h);
    for (int y = 0; y < p.h; ++y) {
        const float* a = s.row(2 * y);
        const float* b = s.row(2 * y + 1);
        float* out = p.px.data() + static_cast<std::size_t>(y) * p.w;
        for (int x = 0; x < p.w; ++x)
            out[x] = 0.25f * (a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]);
    }
}

// The pyramid down to a shorter side of 8-15 px, in storage kept by the calling thread (no page
// faults from fresh allocations on every image).
const Pyramid& build_pyramid(const ImageView& g) {
    IRIS_STAGE("pyramid");
    thread_local Pyramid pyr;
    int count = 1;
    for (int w = g.width, h = g.height; std::min(w, h) / 2 >= 8; w /= 2, h /= 2) ++count;
    pyr.levels.resize(count);
    Plane& p = pyr.levels[0];
    p.w = g.width;
    p.h = g.height;
    p.px.resize(static_cast<std::size_t>(p.w) * p.h);
    for (int y = 0; y < p.h; ++y) {
        float* out = p.px.data() + static_cast<std::size_t>(y) * p.w;
        const std::uint8_t* in = g.pixel(y, 0);
        if (g.pixel_stride == 1) {
            for (int x = 0; x < p.w; ++x) out[x] = in[x];
        } else {
            for (int x = 0; x < p.w; ++x) out[x] = in[x * g.pixel_stride];
        }
    }
    for (int k = 1; k < count; ++k) reduce_into(pyr.levels[k - 1], pyr.levels[k]);
    return pyr;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

struct Ray {
    float c;
    float s;
};

// `per_sector` rays evenly inside each [from, to] sector (degrees, from +x towards +y).
std::vector<Ray> sector_rays(const std::vector<std::pair<double, double>>& sectors, int per_sector) {
    std::vector<Ray> rays;
    for (const auto& [from, to] : sectors)
        for (int i = 0; i < per_sector; ++i) {
            const double a = (from + (to - from) * (i + 0.5) / per_sector) * kPi / 180.0;
            rays.push_back({static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))});
        }
    return rays;
}

std::vector<Ray> circle_rays(int n) { return sector_rays({{0.0, 360.0}}, n); }

// The lateral arcs of the limbus, clear of the eyelids in most open eyes.
std::vector<Ray> iris_arcs(int per_arc) { return sector_rays({{-30.0, 45.0}, {135.0, 210.0}}, per_arc); }

int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Offset in [-0.5, 0.5] of the vertex of the parabola through (-1, a), (0, b), (1, c).
double peak_offset(double a, double b, double c) {
    const double d = a - 2.0 * b + c;
    if (!(d < 0.0)) return 0.0;
    const double o = 0.5 * (a - c) / d;
    return o < -0.5 ? -0.5 : (o > 0.5 ? 0.5 : o);
}

// atan2 to ~1e-5 rad, for binning pixels into angular cells.
inline float fast_atan2(float y, float x) {
    const float ax = std::fabs(x), ay = std::fabs(y);
    const float mx = std::max(ax, ay), mn = std::min(ax, ay);
    if (mx == 0.0f) return 0.0f;
    const float a = mn / mx;
    const float s = a * a;
    float r = ((-0.0464964749f * s + 0.15931422f) * s - 0.327622764f) * s * a + a;
    if (ay > ax) r = 1.57079637f - r;
    if (x < 0) r = 3.14159274f - r;
    if (y < 0) r = -r;
    return r;
}

struct Histogram {
    std::array<std::uint64_t, 256> counts{};
    std::uint64_t total = 0;

    void add(int v) {
        ++counts[v];
        ++total;
    }

    // The median (mean of the two middle values for an even count); -1 when empty.
    double median() const {
        if (total == 0) return -1.0;
        auto nth = [&](std::uint64_t n) {  // value of the n-th smallest (0-based)
            std::uint64_t seen = 0;
            for (int v = 0; v < 256; ++v) {
                seen += counts[v];
                if (seen > n) return v;
            }
            return 255;
        };
        if (total % 2) return nth(total / 2);
        return 0.5 * (nth(total / 2 - 1) + nth(total / 2));
    }

    double entropy() const {
        double bits = 0.0;
        for (auto c : counts) {
            if (c == 0) continue;
            const double p = static_cast<double>(c) / static_cast<double>(total);
            bits -= p * std::log2(p);
        }
        return bits;
    }
};

double median_of(std::vector<float> v) {
    if (v.empty()) return 0.0;
    const std::size_t m = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + m, v.end());
    double hi = v[m];
    if (v.size() % 2) return hi;
    const double lo = *std::max_element(v.begin(), v.begin() + m);
    return 0.5 * (lo + hi);
}

// ---------------------------------------------------------------------------------------------
// The integro-differential operator

// A disc whose samples are left out (the pupil, in the limbus search).
struct Hole {
    double x = 0.0, y = 0.0, r = -1.0;
};

// Mean grey on circles of radius r0..r1 (integers, plane pixels) about (cx, cy) along `rays`;
// samples outside the plane, above `skip_above` or inside `hole` are left out; NaN where fewer
// than a third of the rays gave a sample.
void circle_means(const Plane& p, double cx, double cy, int r0, int r1, const std::vector<Ray>& rays,
                  float skip_above, std::vector<float>& sums, std::vector<int>& counts,
                  std::vector<float>& means, const Hole& hole = {}) {
    const int n = r1 - r0 + 1;
    sums.assign(n, 0.0f);
    counts.assign(n, 0);
    means.resize(n);
    const double hole2 = hole.r > 0 ? hole.r * hole.r : -1.0;
    for (const Ray& ray : rays)
        for (int i = 0; i < n; ++i) {
            float v;
            const double r = r0 + i;
            const double x = cx + r * ray.c, y = cy + r * ray.s;
            if (hole2 > 0 && (x - hole.x) * (x - hole.x) + (y - hole.y) * (y - hole.y) < hole2) continue;
            if (p.sample(x, y, v) && v <= skip_above) {
                sums[i] += v;
                ++counts[i];
            }
        }
    const int need = std::max<int>(1, static_cast<int>(rays.size()) / 3);
    for (int i = 0; i < n; ++i)
        means[i] = counts[i] >= need ? sums[i] / counts[i] : std::numeric_limits<float>::quiet_NaN();
}

// Radial step at radius r0 + i: mean of the two circles outside minus the two inside.
double step_at(const std::vector<float>& m, int i) {
    const double s = 0.5 * ((m[i + 1] + m[i + 2]) - (m[i - 1] + m[i - 2]));
    return std::isnan(s) ? kNone : s;
}

// What the search maximises: the step, or for the pupil (dark) the step weighted towards a dark
// inside, 40 / (inside + 40), so that a dilated pupil's boundary beats the limbus around it.
double objective(const std::vector<float>& m, int i, bool dark) {
    const double s = step_at(m, i);
    if (!dark || s == kNone) return s;
    const double inside = std::max(0.0, 0.5 * (m[i - 1] + m[i - 2]));
    return s * 40.0 / (inside + 40.0);
}

struct Fit {
    double x = 0.0;
    double y = 0.0;
    double r = 0.0;
    double step = kNone;  // the objective maximised
    double raw = kNone;   // the plain step (grey levels) at the optimum
};

struct Search {
    double cx = 0.0, cy = 0.0;  // window centre (plane pixels)
    int window = 0;             // centres at cx + i, cy + j for |i|, |j| <= window
    int stride = 1;
    double rmin = 0.0, rmax = 0.0;
    // Iris mode: the radius also stays 1.2 pupil radii + 1 px beyond the pupil centre's offset.
    bool around_pupil = false;
    double px = 0.0, py = 0.0, pr = 0.0;
    float skip_above = kNoSkip;
    bool dark = false;  // pupil: weight the step towards a dark inside
};

struct Scratch {
    std::vector<float> sums, means;
    std::vector<int> counts;
};

// Best radius and its step for one centre (step kNone when no radius fits).
Fit best_radius(const Plane& p, const Search& s, double cx, double cy, const std::vector<Ray>& rays,
                Scratch& sc, double* below = nullptr, double* above = nullptr) {
    Fit best;
    double lo = s.rmin;
    if (s.around_pupil) {
        // Beyond the pupil, and concentric within 0.2 iris radii (pupils sit a little off-centre,
        // by under a tenth of the iris radius in most eyes).
        const double offset = std::hypot(cx - s.px, cy - s.py);
        lo = std::max({lo, 1.1 * s.pr + offset + 1.0, offset / 0.2});
    }
    const int ra = std::max(3, static_cast<int>(std::ceil(lo)));
    const int rb = static_cast<int>(std::floor(s.rmax));
    if (rb < ra) return best;
    Hole hole;
    if (s.around_pupil) hole = {s.px, s.py, s.pr + 1.0};  // the pupil and its blurred edge
    circle_means(p, cx, cy, ra - 2, rb + 2, rays, s.skip_above, sc.sums, sc.counts, sc.means, hole);
    int best_i = -1;
    for (int r = ra; r <= rb; ++r) {
        const double d = objective(sc.means, r - ra + 2, s.dark);
        if (d > best.step) {
            best = {cx, cy, static_cast<double>(r), d, step_at(sc.means, r - ra + 2)};
            best_i = r - ra + 2;
        }
    }
    if (best_i >= 0 && below && above) {
        *below = best_i - 1 >= 2 ? objective(sc.means, best_i - 1, s.dark) : kNone;
        *above = best_i + 1 <= static_cast<int>(sc.means.size()) - 3 ? objective(sc.means, best_i + 1, s.dark)
                                                                      : kNone;
    }
    return best;
}

Fit best_circle(const Plane& p, const Search& s, const std::vector<Ray>& rays, Scratch& sc) {
    Fit best;
    for (int j = -s.window; j <= s.window; j += s.stride)
        for (int i = -s.window; i <= s.window; i += s.stride) {
            const Fit f = best_radius(p, s, s.cx + i, s.cy + j, rays, sc);
            if (f.step > best.step) best = f;
        }
    return best;
}

// Sub-pixel vertex of the step about an integer-grid optimum (full-size plane only).
Fit polish(const Plane& p, Search s, const Fit& f, const std::vector<Ray>& rays, Scratch& sc) {
    Fit out = f;
    s.rmin = f.r - 1.0;
    s.rmax = f.r + 1.0;
    double below = kNone, above = kNone;
    const Fit centre = best_radius(p, s, f.x, f.y, rays, sc, &below, &above);
    if (centre.step == kNone) return out;
    out.step = centre.step;
    out.raw = centre.raw;
    if (below != kNone && above != kNone) out.r = centre.r + peak_offset(below, centre.step, above);
    s.rmin = f.r - 2.0;
    s.rmax = f.r + 2.0;
    const double l = best_radius(p, s, f.x - 1, f.y, rays, sc).step;
    const double r = best_radius(p, s, f.x + 1, f.y, rays, sc).step;
    const double u = best_radius(p, s, f.x, f.y - 1, rays, sc).step;
    const double d = best_radius(p, s, f.x, f.y + 1, rays, sc).step;
    if (l != kNone && r != kNone) out.x += peak_offset(l, centre.step, r);
    if (u != kNone && d != kNone) out.y += peak_offset(u, centre.step, d);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Dark round regions (pupil candidates)

struct Blob {
    double x, y, r, score, inner, ring;
};

// Bright regions that do not reach the image border lowered to the brightest level at which they
// join it (grey-level reconstruction by dilation from the border, Vincent's hybrid algorithm): a
// specular highlight in the pupil takes the pupil's grey, whatever its size; dark regions stay.
Plane without_bright_islands(const Plane& f) {
    IRIS_STAGE("islands");
    const int w = f.w, h = f.h;
    Plane m = f;
    for (int y = 1; y + 1 < h; ++y)
        for (int x = 1; x + 1 < w; ++x) m.px[static_cast<std::size_t>(y) * w + x] = 0.0f;
    auto at = [&](int x, int y) -> float& { return m.px[static_cast<std::size_t>(y) * w + x]; };
    auto mask = [&](int x, int y) { return f.px[static_cast<std::size_t>(y) * w + x]; };
    static const int before[4][2] = {{-1, 0}, {-1, -1}, {0, -1}, {1, -1}};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            float v = at(x, y);
            for (const auto& d : before) {
                const int xx = x + d[0], yy = y + d[1];
                if (xx >= 0 && xx < w && yy >= 0) v = std::max(v, at(xx, yy));
            }
            at(x, y) = std::min(v, mask(x, y));
        }
    std::vector<int> queue;
    for (int y = h - 1; y >= 0; --y)
        for (int x = w - 1; x >= 0; --x) {
            float v = at(x, y);
            for (const auto& d : before) {
                const int xx = x - d[0], yy = y - d[1];
                if (xx >= 0 && xx < w && yy < h) v = std::max(v, at(xx, yy));
            }
            v = std::min(v, mask(x, y));
            at(x, y) = v;
            for (const auto& d : before) {
                const int xx = x - d[0], yy = y - d[1];
                if (xx >= 0 && xx < w && yy < h && at(xx, yy) < v && at(xx, yy) < mask(xx, yy)) {
                    queue.push_back(y * w + x);
                    break;
                }
            }
        }
    for (std::size_t head = 0; head < queue.size(); ++head) {
        const int x = queue[head] % w, y = queue[head] / w;
        const float v = at(x, y);
        for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) {
                const int xx = x + dx, yy = y + dy;
                if ((dx == 0 && dy == 0) || xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
                float& u = at(xx, yy);
                const float limit = mask(xx, yy);
                if (u < v && u < limit) {
                    u = std::min(v, limit);
                    queue.push_back(yy * w + xx);
                }
            }
    }
    return m;
}

// Dark round regions, best first, in the coordinates of `p`: each position's best radius by the
// Weber contrast of a surrounding box ring (1.15-1.6 r) against the inscribed box (0.7 r), with
// ring - inner >= 15 grey levels. Radii from 3% to 25% of the shorter side, three per octave; each
// is evaluated on the reduction of `p` where it is 3-6 px. A region is dropped near a better one
// of similar size, not inside one of another size (a pupil inside a dark iris stays a candidate).
std::vector<Blob> dark_blobs(const Plane& p, int wanted) {
    IRIS_STAGE("blobs");
    const int shorter = std::min(p.w, p.h);
    const double rmin = std::max(2.0, 0.03 * shorter), rmax = std::max(rmin, 0.25 * shorter);
    thread_local std::vector<Plane> planes;
    thread_local std::vector<double> sat;
    thread_local std::vector<float> best_score;
    thread_local std::vector<std::uint8_t> best_radius;
    planes.resize(1);
    planes[0] = p;
    while (std::min(planes.back().w, planes.back().h) / 2 >= 16) {
        planes.emplace_back();
        reduce_into(planes[planes.size() - 2], planes.back());
    }
    std::vector<Blob> all;
    for (std::size_t j = 0; j < planes.size(); ++j) {
        const Plane& q = planes[j];
        const double scale = static_cast<double>(1 << j);
        const bool last = j + 1 == planes.size();
        std::vector<double> radii;  // plane pixels
        for (int i = 0;; ++i) {
            const double r = 3.0 * std::pow(2.0, i / 3.0);
            if (r >= 6.0 && !last) break;
            if (r * scale > rmax * 1.0001) break;
            if (r * scale * 1.26 < rmin) continue;
            radii.push_back(r);
        }
        if (radii.empty()) continue;
        const int w = q.w, h = q.h, stride = w + 1;
        sat.assign(static_cast<std::size_t>(w + 1) * (h + 1), 0.0);
        for (int y = 0; y < h; ++y) {
            double run = 0.0;
            const float* in = q.row(y);
            double* out = sat.data() + static_cast<std::size_t>(y + 1) * stride;
            const double* above = out - stride;
            for (int x = 0; x < w; ++x) {
                run += in[x];
                out[x + 1] = above[x + 1] + run;
            }
        }
        const double* S = sat.data();
        // Sum and pixel count of the box [x0, x1] x [y0, y1] clipped to the plane.
        auto clipped = [&](int x0, int y0, int x1, int y1, double& sum, int& area) {
            x0 = std::max(x0, 0);
            y0 = std::max(y0, 0);
            x1 = std::min(x1, w - 1);
            y1 = std::min(y1, h - 1);
            sum = S[(y1 + 1) * stride + x1 + 1] - S[(y1 + 1) * stride + x0] - S[y0 * stride + x1 + 1] +
                  S[y0 * stride + x0];
            area = (x1 - x0 + 1) * (y1 - y0 + 1);
        };
        auto inside = [&](int x, int y, int a) {  // sum of the box of half-side a, all inside
            return S[(y + a + 1) * stride + x + a + 1] - S[(y + a + 1) * stride + x - a] -
                   S[(y - a) * stride + x + a + 1] + S[(y - a) * stride + x - a];
        };
        best_score.assign(static_cast<std::size_t>(w) * h, -1e30f);
        best_radius.assign(static_cast<std::size_t>(w) * h, 0);
        for (std::size_t ri = 0; ri < radii.size(); ++ri) {
            const double r = radii[ri];
            const int a = std::max(1, static_cast<int>(std::lround(0.7 * r)));
            const int b0 = std::max(a + 1, static_cast<int>(std::lround(1.15 * r)));
            const int b1 = std::max(b0 + 1, static_cast<int>(std::lround(1.6 * r)));
            const int full_ring = (2 * b1 + 1) * (2 * b1 + 1) - (2 * b0 + 1) * (2 * b0 + 1);
            const double inner_area = (2.0 * a + 1) * (2.0 * a + 1);
            for (int y = a; y < h - a; ++y) {
                const bool rows_in = y - b1 >= 0 && y + b1 < h;
                for (int x = a; x < w - a; ++x) {
                    const double inner = inside(x, y, a) / inner_area;
                    double ring;
                    if (rows_in && x - b1 >= 0 && x + b1 < w) {
                        ring = (inside(x, y, b1) - inside(x, y, b0)) / full_ring;
                    } else {
                        double so, sb;
                        int ao, ab;
                        clipped(x - b1, y - b1, x + b1, y + b1, so, ao);
                        clipped(x - b0, y - b0, x + b0, y + b0, sb, ab);
                        if (2 * (ao - ab) < full_ring) continue;
                        ring = (so - sb) / (ao - ab);
                    }
                    if (ring - inner < 15.0) continue;
                    const float score = static_cast<float>((ring - inner) / (inner + 20.0));
                    const std::size_t k = static_cast<std::size_t>(y) * w + x;
                    if (score > best_score[k]) {
                        best_score[k] = score;
                        best_radius[k] = static_cast<std::uint8_t>(ri);
                    }
                }
            }
        }
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const std::size_t k = static_cast<std::size_t>(y) * w + x;
                if (best_score[k] <= -1e29f) continue;
                bool peak = true;  // only local maxima of the score compete
                for (int dy = -1; dy <= 1 && peak; ++dy)
                    for (int dx = -1; dx <= 1; ++dx) {
                        const int xx = x + dx, yy = y + dy;
                        if ((dx || dy) && xx >= 0 && xx < w && yy >= 0 && yy < h &&
                            best_score[static_cast<std::size_t>(yy) * w + xx] > best_score[k]) {
                            peak = false;
                            break;
                        }
                    }
                if (!peak) continue;
                const double r = radii[best_radius[k]];
                const int a = std::max(1, static_cast<int>(std::lround(0.7 * r)));
                const double inner = inside(x, y, a) / ((2.0 * a + 1) * (2.0 * a + 1));
                all.push_back({(x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5, r * scale, best_score[k],
                               inner, inner + best_score[k] * (inner + 20.0)});
            }
    }
    std::sort(all.begin(), all.end(), [](const Blob& a, const Blob& b) { return a.score > b.score; });
    std::vector<Blob> blobs;
    for (const Blob& b : all) {
        if (static_cast<int>(blobs.size()) >= wanted) break;
        bool duplicate = false;
        for (const Blob& kept : blobs) {
            const double ratio = b.r / kept.r;
            if (std::hypot(b.x - kept.x, b.y - kept.y) < std::max(b.r, kept.r) && ratio > 0.6 && ratio < 1.67)
                duplicate = true;
        }
        if (!duplicate) blobs.push_back(b);
    }
    return blobs;
}

// ---------------------------------------------------------------------------------------------
// Localisation

struct Candidate {
    IrisCircle pupil, iris;                       // full-size coordinates
    double pupil_coarse = kNone, iris_coarse = kNone;  // boundary steps on the search levels
    double pupil_inner = 255.0;                   // mean grey inside 0.7 pupil radii
    double blob_inner = 255.0;                    // the dark region's grey, highlights removed
    double pupil_support = 0.0;                   // share of the pupil circle on a boundary
    double iris_inner = 0.0;                      // mean grey of the iris between the circles
    double pupil_step = kNone, iris_step = kNone;     // at full size (after refinement)
    int pupil_level = 0, iris_level = 0;
    float skip_above = kNoSkip;
    std::string reason;
};

int pupil_rays(double r) { return clampi(static_cast<int>(std::lround(2.0 * kPi * r / 2.0)), 24, 128); }
int arc_rays(double r) { return clampi(static_cast<int>(std::lround(0.5 * kPi * r / 2.5)), 12, 64); }

// Mean grey of the disc or annulus r_from..r_to (plane pixels) about (cx, cy) on 24 rays, circles
// weighted by their radius; -1 when nothing was sampled.
double disc_mean(const Plane& p, double cx, double cy, int r_from, int r_to, float skip, Scratch& sc) {
    if (r_to < r_from) return -1.0;
    circle_means(p, cx, cy, r_from, r_to, circle_rays(24), skip, sc.sums, sc.counts, sc.means);
    double sum = 0.0, weight = 0.0;
    for (int i = 0; i <= r_to - r_from; ++i)
        if (!std::isnan(sc.means[i])) {
            sum += (r_from + i) * sc.means[i];
            weight += r_from + i;
        }
    return weight > 0 ? sum / weight : -1.0;
}

Search iris_search(const Pyramid& pyr, int k, const IrisCircle& pupil) {
    const Plane& q = pyr.levels[k];
    Search t;
    t.around_pupil = true;
    t.px = to_level(pupil.x, k);
    t.py = to_level(pupil.y, k);
    t.pr = pupil.r / (1 << k);
    t.cx = std::round(t.px);
    t.cy = std::round(t.py);
    t.window = std::max(2, static_cast<int>(std::ceil(0.7 * t.pr)));
    t.rmin = 1.1 * t.pr;
    t.rmax = std::min(6.5 * t.pr, 0.75 * std::max(q.w, q.h));
    return t;
}

// Share of 16 sectors of the circle where the local boundary step (rays' outer minus inner means,
// two plane pixels each side) reaches half the circle's mean step: 1 for a pupil, well under 1
// for a circle that only partly follows a boundary (a dark patch inside the pupil, an eyelid).
double boundary_support(const Plane& p, const Fit& f, float skip_above) {
    constexpr int sectors = 16, per = 3;
    int support = 0;
    for (int k = 0; k < sectors; ++k) {
        double sum = 0.0;
        int n = 0;
        for (int j = 0; j < per; ++j) {
            const double a = 2.0 * kPi * (k + (j + 0.5) / per) / sectors;
            const double c = std::cos(a), s = std::sin(a);
            double out = 0.0, in = 0.0;
            int no = 0, ni = 0;
            for (int d = 1; d <= 2; ++d) {
                float v;
                if (p.sample(f.x + (f.r + d) * c, f.y + (f.r + d) * s, v) && v <= skip_above) {
                    out += v;
                    ++no;
                }
                if (p.sample(f.x + (f.r - d) * c, f.y + (f.r - d) * s, v) && v <= skip_above) {
                    in += v;
                    ++ni;
                }
            }
            if (no && ni) {
                sum += out / no - in / ni;
                ++n;
            }
        }
        if (n && sum / n >= 0.5 * f.raw) ++support;
    }
    return static_cast<double>(support) / sectors;
}

// The coarse pupil of one dark region, on the level where its radius is 6-12 px.
Candidate coarse_pupil(const Pyramid& pyr, int level, const Blob& b) {
    IRIS_STAGE("coarse pupil");
    Candidate c;
    Scratch sc;
    const int levels = static_cast<int>(pyr.levels.size());
    const double X = from_level(b.x, level), Y = from_level(b.y, level), R = b.r * (1 << level);
    int lp = 0;
    while (lp + 1 < levels && R / (1 << (lp + 1)) >= 6.0) ++lp;
    const Plane& p = pyr.levels[lp];
    const double r = R / (1 << lp);
    Search s;
    s.cx = std::round(to_level(X, lp));
    s.cy = std::round(to_level(Y, lp));
    s.window = std::max(2, static_cast<int>(std::ceil(0.25 * r)));
    s.rmin = std::max(2.0, 0.55 * r);
    s.rmax = 1.8 * r + 1.0;
    s.skip_above = static_cast<float>(b.ring + 0.5 * (255.0 - b.ring));
    s.dark = true;
    const Fit f = best_circle(p, s, circle_rays(pupil_rays(r)), sc);
    c.pupil_level = lp;
    c.skip_above = s.skip_above;
    c.blob_inner = b.inner;
    if (f.step == kNone) {
        c.reason = "no pupil boundary around the darkest round region";
        return c;
    }
    c.pupil_coarse = f.raw;
    c.pupil_support = boundary_support(p, f, s.skip_above);
    c.pupil = {from_level(f.x, lp), from_level(f.y, lp), f.r * (1 << lp)};
    c.pupil_inner = disc_mean(p, f.x, f.y, 1, std::max(1, static_cast<int>(0.7 * f.r)), s.skip_above, sc);
    return c;
}

// The coarse iris around a coarse pupil, on the level where the pupil's radius is 4-8 px, with
// the pupil left out (the centre grid every 2 px, then +-1 about the best).
void coarse_iris(const Pyramid& pyr, Candidate& c) {
    IRIS_STAGE("coarse iris");
    Scratch sc;
    const int levels = static_cast<int>(pyr.levels.size());
    int li = 0;
    while (li + 1 < levels && c.pupil.r / (1 << (li + 1)) >= 4.0) ++li;
    c.iris_level = li;
    const Plane& q = pyr.levels[li];
    Search t = iris_search(pyr, li, c.pupil);
    const auto arcs = iris_arcs(16);
    t.stride = 2;
    Fit g = best_circle(q, t, arcs, sc);
    if (g.step == kNone) {
        c.reason = "no iris boundary around the pupil";
        return;
    }
    t.cx = g.x;
    t.cy = g.y;
    t.window = 1;
    t.stride = 1;
    g = best_circle(q, t, arcs, sc);
    c.iris_coarse = g.raw;
    c.iris = {from_level(g.x, li), from_level(g.y, li), g.r * (1 << li)};
    // The iris between the circles, on the pupil's (finer) level: rings about the pupil centre,
    // clear of both boundaries.
    const int lp = c.pupil_level;
    const Plane& p = pyr.levels[lp];
    const double pr = c.pupil.r / (1 << lp);
    const double gap = (c.iris.r - std::hypot(c.iris.x - c.pupil.x, c.iris.y - c.pupil.y)) / (1 << lp);
    c.iris_inner = disc_mean(p, to_level(c.pupil.x, lp), to_level(c.pupil.y, lp),
                             static_cast<int>(std::ceil(1.1 * pr + 1.0)),
                             static_cast<int>(std::floor(pr + 0.8 * (gap - pr))), c.skip_above, sc);
}

// Refines a coarse circle found on level `from` down to full size: on each level the doubled
// circle's centre climbs to the best of its 3 x 3 neighbours (radius +-2 px) until it is the best,
// and the full-size optimum is interpolated to sub-pixel.
Fit descend(const Pyramid& pyr, int from, const IrisCircle& coarse, bool iris, const IrisCircle& pupil,
            float skip_above, Scratch& sc) {
    Fit f{to_level(coarse.x, from), to_level(coarse.y, from), coarse.r / (1 << from), kNone};
    Search s;
    s.skip_above = skip_above;
    s.dark = !iris;
    s.window = 1;
    s.stride = 1;
    for (int k = std::max(from - 1, 0); k >= 0; --k) {
        const Plane& p = pyr.levels[k];
        if (k < from) {  // the doubled circle
            f.x = 2.0 * (f.x + 0.5) - 0.5;
            f.y = 2.0 * (f.y + 0.5) - 0.5;
            f.r *= 2.0;
        }
        s.rmin = f.r - 2.0;
        s.rmax = f.r + 2.0;
        if (iris) {
            s.around_pupil = true;
            s.px = to_level(pupil.x, k);
            s.py = to_level(pupil.y, k);
            s.pr = pupil.r / (1 << k);
        }
        const auto rays = iris ? iris_arcs(arc_rays(f.r)) : circle_rays(pupil_rays(f.r));
        for (int climb = 0; climb < 4; ++climb) {
            s.cx = f.x;
            s.cy = f.y;
            const Fit g = best_circle(p, s, rays, sc);
            if (g.step == kNone) break;
            const bool moved = g.x != f.x || g.y != f.y;
            f = g;
            if (!moved) break;
        }
        if (f.step == kNone) break;
        if (k == 0) f = polish(p, s, f, rays, sc);
    }
    return f;
}

// Checks that make a pair of circles an eye; empty when they pass.
std::string implausible(const Candidate& c) {
    if (!c.reason.empty()) return c.reason;
    if (c.pupil_coarse < 15.0)
        return "no pupil: the darkest round region's boundary step is below 15 grey levels";
    if (c.pupil_support < 0.5)
        return "no pupil: the dark region's boundary is a circle on fewer than half of its sides";
    if (c.iris_coarse < 4.0)
        return "no iris: the step across the limbus around the pupil is below 4 grey levels";
    if (c.iris_inner < 0.0 || c.iris_inner - c.pupil_inner < 0.5 * c.pupil_coarse)
        return "no eye: the ring around the dark region is not brighter than it (no iris)";
    const double ratio = c.pupil.r / c.iris.r;
    if (ratio < 0.1 || ratio > 0.85) return "no eye: the pupil/iris radius ratio is implausible";
    const double offset = std::hypot(c.pupil.x - c.iris.x, c.pupil.y - c.iris.y);
    if (offset + c.pupil.r > c.iris.r) return "no eye: the pupil is not inside the iris";
    return {};
}

double score_of(const Candidate& c) {
    // Strong boundaries around a dark pupil: the darkness weight keeps a dark iris (with the pupil
    // inside it) from passing for a pupil.
    return (c.pupil_coarse + c.iris_coarse) * c.pupil_support * 40.0 / (std::max(0.0, c.blob_inner) + 40.0);
}

IrisCircle refit_pupil(const Pyramid& pyr, const IrisCircle& P, double specular);

// Refines the winner's circles to full size: the pupil first (then refitted to its boundary
// points, which centres it on an elliptical pupil), then the iris around it.
void refine(const Pyramid& pyr, Candidate& c) {
    IRIS_STAGE("refine");
    Scratch sc;
    const Fit f = descend(pyr, c.pupil_level, c.pupil, false, {}, c.skip_above, sc);
    if (f.step != kNone) {
        c.pupil = refit_pupil(pyr, {f.x, f.y, f.r}, c.skip_above);
        c.pupil_step = f.raw;
    }
    const Fit g = descend(pyr, c.iris_level, c.iris, true, c.pupil, kNoSkip, sc);
    if (g.step != kNone) {
        c.iris = {g.x, g.y, g.r};
        c.iris_step = g.raw;
    }
}

std::vector<Candidate> coarse_candidates(const Pyramid& pyr, std::vector<Blob>& blobs, std::string& none) {
    std::vector<Candidate> out;
    const Plane& full = pyr.levels[0];
    if (std::min(full.w, full.h) < 32) {
        none = "the image is too small to hold an eye (under 32 px)";
        return out;
    }
    int level = 0;
    while (level + 1 < static_cast<int>(pyr.levels.size()) &&
           std::min(pyr.levels[level + 1].w, pyr.levels[level + 1].h) >= 90)
        ++level;
    // Highlights flattened on the next level (4 times fewer pixels), carried up by a minimum.
    const Plane& search = pyr.levels[level];
    Plane plane = search;
    if (level + 1 < static_cast<int>(pyr.levels.size())) {
        const Plane flat = without_bright_islands(pyr.levels[level + 1]);
        for (int y = 0; y < plane.h; ++y) {
            const float* coarse = flat.row(std::min(y / 2, flat.h - 1));
            float* out = plane.px.data() + static_cast<std::size_t>(y) * plane.w;
            for (int x = 0; x < plane.w; ++x) out[x] = std::min(out[x], coarse[std::min(x / 2, flat.w - 1)]);
        }
    } else {
        plane = without_bright_islands(search);
    }
    blobs = dark_blobs(plane, 4);
    none = "no dark round region (pupil) found";
    for (Blob& b : blobs) {
        out.push_back(coarse_pupil(pyr, level, b));
        b.x = from_level(b.x, level);
        b.y = from_level(b.y, level);
        b.r *= 1 << level;
    }
    // The limbus is searched around the two darkest-bounded pupils only.
    std::vector<std::size_t> order(out.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto pupil_score = [&](std::size_t i) {
        const Candidate& c = out[i];
        return c.reason.empty()
                   ? c.pupil_coarse * c.pupil_support * 40.0 / (std::max(0.0, c.blob_inner) + 40.0)
                   : kNone;
    };
    std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return pupil_score(i) > pupil_score(j); });
    for (std::size_t n = 0; n < order.size(); ++n) {
        Candidate& c = out[order[n]];
        if (!c.reason.empty()) continue;
        if (n < 2) coarse_iris(pyr, c);
        else c.reason = "not among the two best pupils";
    }
    return out;
}

std::vector<IrisCandidate> candidates_on(const Pyramid& pyr) {
    std::vector<Blob> blobs;
    std::string none;
    auto coarse = coarse_candidates(pyr, blobs, none);
    std::vector<IrisCandidate> out;
    for (std::size_t i = 0; i < coarse.size(); ++i) {
        Candidate& c = coarse[i];
        IrisCandidate ic;
        ic.rejected = implausible(c);
        if (ic.rejected.empty()) refine(pyr, c);
        ic.blob = {blobs[i].x, blobs[i].y, blobs[i].r};
        ic.blob_inner = blobs[i].inner;
        ic.blob_ring = blobs[i].ring;
        ic.pupil = c.pupil;
        ic.iris = c.iris;
        ic.pupil_coarse = c.pupil_coarse;
        ic.iris_coarse = c.iris_coarse;
        ic.pupil_inner = c.pupil_inner;
        ic.pupil_support = c.pupil_support;
        ic.iris_inner = c.iris_inner;
        ic.pupil_step = c.pupil_step;
        ic.iris_step = c.iris_step;
        ic.score = ic.rejected.empty() ? score_of(c) : 0.0;
        out.push_back(ic);
    }
    return out;
}

IrisLocation locate_on(const Pyramid& pyr) {
    IrisLocation out;
    std::vector<Blob> blobs;
    auto coarse = coarse_candidates(pyr, blobs, out.reason);
    Candidate* best = nullptr;
    for (Candidate& c : coarse) {
        const std::string why = implausible(c);
        if (!why.empty()) {
            if (!best && &c == &coarse.front()) out.reason = why;
            continue;
        }
        if (!best || score_of(c) > score_of(*best)) best = &c;
    }
    if (!best) return out;
    refine(pyr, *best);
    out.found = true;
    out.reason.clear();
    out.pupil = best->pupil;
    out.iris = best->iris;
    out.pupil_step = best->pupil_step;
    out.iris_step = best->iris_step;
    return out;
}

// ---------------------------------------------------------------------------------------------
// Measures

constexpr int kAngles = 256;
constexpr int kRadii = 32;

// Distance from the iris centre along unit (ux, uy) to the pupil circle's far crossing (0 when the
// ray misses the pupil, possible only when the iris centre lies outside the pupil).
double pupil_distance(const IrisCircle& P, const IrisCircle& I, double ux, double uy) {
    const double dx = P.x - I.x, dy = P.y - I.y;
    const double b = ux * dx + uy * dy;
    const double disc = b * b - (dx * dx + dy * dy) + P.r * P.r;
    if (disc < 0.0) return 0.0;
    return std::max(0.0, b + std::sqrt(disc));
}

struct Occlusion {
    std::vector<std::uint8_t> mask;  // kAngles x kRadii, 1 = occluded (eyelid, lash, outside)
    std::array<double, kAngles> inner{};  // pupil distance per angular cell
    double iris_level = 0.0;
    double iris_spread = 0.0;
};

Occlusion occlusion(const Pyramid& pyr, const IrisCircle& P, const IrisCircle& I) {
    IRIS_STAGE("occlusion");
    Occlusion o;
    int k = 0;
    while (k + 1 < static_cast<int>(pyr.levels.size()) && I.r / (1 << (k + 1)) >= 40.0) ++k;
    const Plane& p = pyr.levels[k];
    const int n = kAngles * kRadii;
    std::vector<float> value(n, 0.0f);
    std::vector<std::uint8_t> inside(n, 0);
    std::vector<float> reference;
    for (int a = 0; a < kAngles; ++a) {
        const double theta = 2.0 * kPi * (a + 0.5) / kAngles;
        const double ux = std::cos(theta), uy = std::sin(theta);
        const double t0 = pupil_distance(P, I, ux, uy);
        o.inner[a] = t0;
        double deg = theta * 180.0 / kPi;
        if (deg > 180.0) deg -= 360.0;  // -180..180, positive below the horizontal
        const bool lateral = (deg >= -20.0 && deg <= 50.0) || deg >= 130.0 || deg <= -160.0;
        for (int j = 0; j < kRadii; ++j) {
            const double rho = (j + 0.5) / kRadii;
            const double t = t0 + rho * (I.r - t0);
            float v;
            const int c = a * kRadii + j;
            if (p.sample(to_level(I.x + t * ux, k), to_level(I.y + t * uy, k), v)) {
                value[c] = v;
                inside[c] = 1;
                if (lateral && rho >= 0.1 && rho <= 0.8) reference.push_back(v);
            }
        }
    }
    if (reference.size() < 16) {
        reference.clear();
        for (int c = 0; c < n; ++c)
            if (inside[c]) reference.push_back(value[c]);
    }
    const double m = median_of(reference);
    std::vector<float> deviation(reference.size());
    for (std::size_t i = 0; i < reference.size(); ++i) deviation[i] = std::fabs(reference[i] - m);
    const double s = std::max(4.0, 1.4826 * median_of(deviation));
    o.iris_level = m;
    o.iris_spread = s;

    // 3 x 3 mean over the grid (angles wrap), then cells far from the iris level.
    std::vector<std::uint8_t> deviant(n, 0);
    for (int a = 0; a < kAngles; ++a)
        for (int j = 0; j < kRadii; ++j) {
            const int c = a * kRadii + j;
            if (!inside[c]) {
                deviant[c] = 1;
                continue;
            }
            double sum = 0.0;
            int cnt = 0;
            for (int da = -1; da <= 1; ++da)
                for (int dj = -1; dj <= 1; ++dj) {
                    const int jj = j + dj;
                    if (jj < 0 || jj >= kRadii) continue;
                    const int cc = ((a + da + kAngles) % kAngles) * kRadii + jj;
                    if (!inside[cc]) continue;
                    sum += value[cc];
                    ++cnt;
                }
            // Far from the iris in the 3 x 3 mean (eyelid skin), or alone (a lash, a dark fold).
            deviant[c] = std::fabs(sum / cnt - m) > 3.5 * s || std::fabs(value[c] - m) > 6.0 * s;
        }

    // Regions of deviant cells; those reaching the outer boundary (or leaving the image) occlude.
    o.mask.assign(n, 0);
    std::vector<int> label(n, -1), stack, members;
    const int outer_band = static_cast<int>(std::ceil(0.85 * kRadii));
    for (int start = 0; start < n; ++start) {
        if (!deviant[start] || label[start] >= 0) continue;
        members.clear();
        stack.assign(1, start);
        label[start] = start;
        bool touches_outer = false, leaves_image = false;
        int min_j = kRadii;
        std::array<std::uint8_t, kAngles> angles{};
        while (!stack.empty()) {
            const int c = stack.back();
            stack.pop_back();
            members.push_back(c);
            const int a = c / kRadii, j = c % kRadii;
            touches_outer |= j >= outer_band;
            leaves_image |= !inside[c];
            min_j = std::min(min_j, j);
            angles[a] = 1;
            const int next[4] = {((a + 1) % kAngles) * kRadii + j, ((a + kAngles - 1) % kAngles) * kRadii + j,
                                 j + 1 < kRadii ? c + 1 : -1, j > 0 ? c - 1 : -1};
            for (int nb : next)
                if (nb >= 0 && deviant[nb] && label[nb] < 0) {
                    label[nb] = start;
                    stack.push_back(nb);
                }
        }
        const int span = std::accumulate(angles.begin(), angles.end(), 0);
        const bool ring_only = span >= 0.8 * kAngles && min_j >= 0.6 * kRadii;
        // A lid or lashes come in from the boundary: the region reaches past the outer 12% of
        // the annulus (a thin rim there is the blurred limbus of a slightly large circle).
        const bool deep = min_j <= kRadii - 5;
        const bool lid = touches_outer && deep && static_cast<int>(members.size()) >= n / 250 && !ring_only;
        if (leaves_image || lid)
            for (int c : members) o.mask[c] = 1;
    }
    return o;
}

// The pupil boundary along 64 rays from the pupil centre: on each ray (three sub-rays a quarter
// of the angular step apart) the radius of the largest outward step across 3 px, between 0.6 and
// 1.4 pupil radii, sub-pixel; rays through specular pixels or with a step under 6 grey levels or
// 0.35 of the upper-quartile step (eyelid, lashes) are unseen. Read on the level where the pupil radius is >= 24 px.
constexpr int kBoundaryRays = 64;

struct Boundary {
    std::array<double, kBoundaryRays> radius{};
    std::array<bool, kBoundaryRays> seen{};
    int valid = 0;
};

Boundary pupil_boundary(const Pyramid& pyr, const IrisCircle& P, double specular) {
    Boundary out;
    int k = 0;
    while (k + 1 < static_cast<int>(pyr.levels.size()) && P.r / (1 << (k + 1)) >= 24.0) ++k;
    const Plane& p = pyr.levels[k];
    const double scale = static_cast<double>(1 << k);
    const double cx = to_level(P.x, k), cy = to_level(P.y, k), r = P.r / scale;
    constexpr int N = kBoundaryRays;
    const double lo = 0.6 * r, hi = 1.4 * r, step = 0.5;
    const int samples = static_cast<int>((hi - lo) / step) + 1;
    std::array<double, N> strength{};
    std::vector<double> profile(samples), d(samples);
    for (int n = 0; n < N; ++n) {
        int missing = 0;
        for (int i = 0; i < samples; ++i) {
            const double t = lo + i * step;
            double sum = 0.0;
            int cnt = 0;
            for (double off : {-0.25, 0.0, 0.25}) {
                const double a = 2.0 * kPi * (n + off) / N;
                float v;
                if (p.sample(cx + t * std::cos(a), cy + t * std::sin(a), v) && v < specular) {
                    sum += v;
                    ++cnt;
                }
            }
            if (cnt == 0) {
                ++missing;
                profile[i] = std::numeric_limits<double>::quiet_NaN();
            } else {
                profile[i] = sum / cnt;
            }
        }
        if (3 * missing > samples) continue;
        int best = -1;
        double best_d = 0.0;
        std::fill(d.begin(), d.end(), kNone);
        for (int i = 3; i + 3 < samples; ++i) {
            const double di = profile[i + 3] - profile[i - 3];
            if (std::isnan(di)) continue;
            d[i] = di;
            if (di > best_d) {
                best_d = di;
                best = i;
            }
        }
        if (best < 0) continue;
        double t = lo + best * step;
        if (d[best - 1] != kNone && best + 1 < samples && d[best + 1] != kNone)
            t += step * peak_offset(d[best - 1], best_d, d[best + 1]);
        out.radius[n] = t * scale;
        strength[n] = best_d;
        out.seen[n] = true;
    }
    std::vector<float> strengths;
    for (int n = 0; n < N; ++n)
        if (out.seen[n]) strengths.push_back(static_cast<float>(strength[n]));
    // Typical: the upper quartile, so that a boundary hidden on one side does not set the bar.
    double typical = 0.0;
    if (!strengths.empty()) {
        const std::size_t q = strengths.size() * 3 / 4;
        std::nth_element(strengths.begin(), strengths.begin() + q, strengths.end());
        typical = strengths[q];
    }
    const double bar = std::max(0.35 * typical, 6.0);
    for (int n = 0; n < N; ++n) {
        out.seen[n] = out.seen[n] && strength[n] >= bar;
        out.valid += out.seen[n];
    }
    return out;
}

// The least-squares circle (Kasa) through the seen boundary points; the input when under half
// the rays saw the boundary or the fit moves the centre by more than 0.3 radii.
IrisCircle refit_pupil(const Pyramid& pyr, const IrisCircle& P, double specular) {
    const Boundary b = pupil_boundary(pyr, P, specular);
    if (2 * b.valid < kBoundaryRays) return P;
    // Solve for (D, E, F) in x^2 + y^2 + D x + E y + F = 0, coordinates relative to P.
    double m[3][4] = {};
    for (int n = 0; n < kBoundaryRays; ++n) {
        if (!b.seen[n]) continue;
        const double a = 2.0 * kPi * n / kBoundaryRays;
        const double x = b.radius[n] * std::cos(a), y = b.radius[n] * std::sin(a);
        const double row[4] = {x, y, 1.0, -(x * x + y * y)};
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 4; ++j) m[i][j] += row[i] * row[j];
    }
    for (int c = 0; c < 3; ++c) {  // Gauss-Jordan with partial pivoting
        int pivot = c;
        for (int r = c + 1; r < 3; ++r)
            if (std::fabs(m[r][c]) > std::fabs(m[pivot][c])) pivot = r;
        if (std::fabs(m[pivot][c]) < 1e-12) return P;
        for (int j = 0; j < 4; ++j) std::swap(m[c][j], m[pivot][j]);
        for (int r = 0; r < 3; ++r) {
            if (r == c) continue;
            const double f = m[r][c] / m[c][c];
            for (int j = 0; j < 4; ++j) m[r][j] -= f * m[c][j];
        }
    }
    const double D = m[0][3] / m[0][0], E = m[1][3] / m[1][1], F = m[2][3] / m[2][2];
    const double cx = -0.5 * D, cy = -0.5 * E, r2 = cx * cx + cy * cy - F;
    if (!(r2 > 0.0) || std::hypot(cx, cy) > 0.3 * P.r) return P;
    return {P.x + cx, P.y + cy, std::sqrt(r2)};
}

// ISO/IEC 29794-6 pupil boundary circularity from the boundary radii (gaps filled linearly).
IrisValue circularity(const Pyramid& pyr, const IrisCircle& P, double specular) {
    IRIS_STAGE("circularity");
    IrisValue out;
    const Boundary b = pupil_boundary(pyr, P, specular);
    constexpr int N = kBoundaryRays;
    if (2 * b.valid < N) {
        out.error = "the pupil boundary is visible at fewer than half of 64 angles";
        return out;
    }
    std::array<double, N> filled{};
    for (int n = 0; n < N; ++n) {
        if (b.seen[n]) {
            filled[n] = b.radius[n];
            continue;
        }
        int back = 1, fwd = 1;
        while (!b.seen[(n - back + N) % N]) ++back;
        while (!b.seen[(n + fwd) % N]) ++fwd;
        const double lo = b.radius[(n - back + N) % N], hi = b.radius[(n + fwd) % N];
        filled[n] = lo + (hi - lo) * back / static_cast<double>(back + fwd);
    }
    double mean = 0.0;
    for (double v : filled) mean += v;
    mean /= N;
    double power = 0.0;  // sum over 2 <= |k| <= 16 of |c_k|^2
    for (int f = 2; f <= 16; ++f) {
        double re = 0.0, im = 0.0;
        for (int n = 0; n < N; ++n) {
            const double a = 2.0 * kPi * f * n / N;
            re += filled[n] / mean * std::cos(a);
            im -= filled[n] / mean * std::sin(a);
        }
        re /= N;
        im /= N;
        power += 2.0 * (re * re + im * im);
    }
    out.value = 100.0 * std::max(0.0, 1.0 - std::sqrt(power));
    return out;
}

IrisMeasures measures_on(const Pyramid& pyr, const IrisCircle& P, const IrisCircle& I) {
    IRIS_STAGE("measures");
    IrisMeasures m;
    const Plane& full = pyr.levels[0];
    const int W = full.w, H = full.h;
    m.iris_radius = I.r;
    m.pupil_iris_ratio = 100.0 * P.r / I.r;
    const double offset = std::hypot(P.x - I.x, P.y - I.y);
    m.iris_pupil_concentricity = 100.0 * std::max(0.0, 1.0 - offset / I.r);
    // Distances from the iris circle to the image edges (pixel j spans [j - 0.5, j + 0.5]).
    const double left = I.x + 0.5 - I.r, right = W - 0.5 - I.x - I.r;
    const double top = I.y + 0.5 - I.r, bottom = H - 0.5 - I.y - I.r;
    const double margin = std::min({left / (0.6 * I.r), right / (0.6 * I.r), top / (0.2 * I.r),
                                    bottom / (0.2 * I.r)});
    m.margin_adequacy = 100.0 * std::clamp(margin, 0.0, 1.0);

    const Occlusion occ = occlusion(pyr, P, I);
    const double specular = occ.iris_level + std::max(6.0 * occ.iris_spread, 0.5 * (255.0 - occ.iris_level));
    m.specular_threshold = specular;
    m.mask_angles = kAngles;
    m.mask_radii = kRadii;
    m.mask = occ.mask;

    // One pass over the pixels of the iris box (sclera ring included), on a grid of every
    // ceil(R / 100)-th pixel: at most ~200 rows across the iris, area shares and medians unbiased.
    const int stride = std::max(1, static_cast<int>(std::ceil(I.r / 100.0)));
    const double reach = 1.2 * I.r;
    const int x0 = static_cast<int>(std::floor(I.x - reach)), x1 = static_cast<int>(std::ceil(I.x + reach));
    const int y0 = static_cast<int>(std::floor(I.y - reach)), y1 = static_cast<int>(std::ceil(I.y + reach));
    const double r2 = I.r * I.r, p2 = P.r * P.r, pupil_core2 = 0.64 * P.r * P.r;
    const double s_in2 = 1.21 * r2, s_out2 = 1.44 * r2;
    const double mid_lo = 0.5 * (P.r + I.r), mid_hi = 0.9 * I.r;
    const double tan30 = std::tan(kPi / 6.0);
    const float bins_per_radian = static_cast<float>(kAngles / (2.0 * kPi));
    Histogram pupil_h, iris_h, usable_h, sclera_h;
    std::uint64_t annulus = 0, occluded = 0;
    for (int y = y0; y <= y1; y += stride) {
        const double dy = y - I.y, dpy = y - P.y;
        const bool row_in = y >= 0 && y < H;
        const float* row = row_in ? full.row(y) : nullptr;
        for (int x = x0; x <= x1; x += stride) {
            const double dx = x - I.x, dpx = x - P.x;
            const double d2 = dx * dx + dy * dy, dp2 = dpx * dpx + dpy * dpy;
            const bool in = row_in && x >= 0 && x < W;
            if (dp2 <= pupil_core2) {
                if (in) {
                    const int v = static_cast<int>(row[x]);
                    if (v < specular) pupil_h.add(v);
                }
                continue;
            }
            if (d2 <= r2) {
                if (dp2 <= p2) continue;
                ++annulus;
                if (!in) {
                    ++occluded;
                    continue;
                }
                float phi = fast_atan2(static_cast<float>(dy), static_cast<float>(dx));
                if (phi < 0) phi += 6.28318531f;
                const int a = std::min(kAngles - 1, static_cast<int>(phi * bins_per_radian));
                const double t = std::sqrt(d2), t0 = occ.inner[a];
                const double rho = (t - t0) / (I.r - t0);
                const int j = clampi(static_cast<int>(rho * kRadii), 0, kRadii - 1);
                if (occ.mask[a * kRadii + j]) {
                    ++occluded;
                    continue;
                }
                const int v = static_cast<int>(row[x]);
                if (v >= specular) {
                    ++occluded;
                    continue;
                }
                usable_h.add(v);
                if (t >= mid_lo && t <= mid_hi) iris_h.add(v);
            } else if (in && d2 >= s_in2 && d2 <= s_out2 && std::fabs(dy) <= tan30 * std::fabs(dx)) {
                sclera_h.add(static_cast<int>(row[x]));
            }
        }
    }
    m.usable_iris_area.value = annulus ? 100.0 * static_cast<double>(annulus - occluded) / annulus : 0.0;
    if (usable_h.total == 0) {
        m.grey_scale_utilisation.error = "no usable iris pixel";
    } else {
        m.grey_scale_utilisation.value = usable_h.entropy();
    }
    m.pupil_grey = pupil_h.median();
    m.iris_grey = iris_h.median();
    m.sclera_grey = sclera_h.median();
    const double Pg = m.pupil_grey, Ig = m.iris_grey, Sg = m.sclera_grey;
    const char* no_iris = "no usable iris pixel between (pupil + iris radius) / 2 and 0.9 iris radii";
    const char* no_pupil = "no pupil pixel within 0.8 pupil radii below the specular threshold";
    if (Ig < 0) {
        m.iris_sclera_contrast.error = no_iris;
        m.iris_pupil_contrast.error = no_iris;
    } else if (Pg < 0) {
        m.iris_sclera_contrast.error = no_pupil;
        m.iris_pupil_contrast.error = no_pupil;
    } else {
        if (Sg < 0) {
            m.iris_sclera_contrast.error = "the lateral sclera ring (1.1-1.2 iris radii) is outside the image";
        } else if (Sg + Ig - 2.0 * Pg <= 0.0) {
            m.iris_sclera_contrast.error = "the pupil is not darker than the iris and the sclera";
        } else {
            m.iris_sclera_contrast.value = std::clamp(100.0 * (Sg - Ig) / (Sg + Ig - 2.0 * Pg), 0.0, 100.0);
        }
        const double weber = (Ig - Pg) / (20.0 + Pg);
        m.iris_pupil_contrast.value = weber > 0.0 ? 100.0 * weber / (0.75 + weber) : 0.0;
    }
    m.pupil_boundary_circularity = circularity(pyr, P, specular);
    return m;
}

void check_circles(const ImageView& g, const IrisCircle& P, const IrisCircle& I) {
    for (double v : {P.x, P.y, P.r, I.x, I.y, I.r})
        if (!std::isfinite(v)) throw NativeError("iris_measures: circles must be finite");
    if (P.r <= 0.0 || I.r <= 0.0) throw NativeError("iris_measures: radii must be positive");
    if (std::hypot(P.x - I.x, P.y - I.y) + P.r > I.r)
        throw NativeError("iris_measures: the pupil circle must lie inside the iris circle");
    if (I.r > 4.0 * std::max(g.width, g.height))
        throw NativeError("iris_measures: the iris radius is more than 4 times the image size");
}

}  // namespace

IrisLocation iris_locate(const ImageView& grey) { return locate_on(build_pyramid(grey)); }

std::vector<IrisCandidate> iris_candidates(const ImageView& grey) { return candidates_on(build_pyramid(grey)); }

IrisMeasures iris_measures(const ImageView& grey, const IrisCircle& pupil, const IrisCircle& iris) {
    check_circles(grey, pupil, iris);
    return measures_on(build_pyramid(grey), pupil, iris);
}

double iris_sharpness(const ImageView& g) {
    IRIS_STAGE("sharpness");
    // ISO/IEC 29794-6 sharpness kernel (9 x 9, zero sum).
    static const int kernel[9][9] = {
        {0, 1, 1, 2, 2, 2, 1, 1, 0},         {1, 2, 4, 5, 5, 5, 4, 2, 1},
        {1, 4, 5, 3, 0, 3, 5, 4, 1},         {2, 5, 3, -12, -24, -12, 3, 5, 2},
        {2, 5, 0, -24, -40, -24, 0, 5, 2},   {2, 5, 3, -12, -24, -12, 3, 5, 2},
        {1, 4, 5, 3, 0, 3, 5, 4, 1},         {1, 2, 4, 5, 5, 5, 4, 2, 1},
        {0, 1, 1, 2, 2, 2, 1, 1, 0}};
    // The kernel is symmetric about its middle row and column: fold the 9 x 9 window into the
    // 5 x 5 sums of mirrored pixels and take 25 products instead of 81.
    double ss = 0.0;
    for (int y = 4; y < g.height - 4; y += 4)
        for (int x = 4; x < g.width - 4; x += 4) {
            int rows[5][9];
            for (int i = 0; i < 5; ++i) {
                const std::uint8_t* a = g.pixel(y - 4 + i, x - 4);
                const std::uint8_t* b = g.pixel(y + 4 - i, x - 4);
                for (int j = 0; j < 9; ++j)
                    rows[i][j] = i < 4 ? a[j * g.pixel_stride] + b[j * g.pixel_stride] : a[j * g.pixel_stride];
            }
            long long f = 0;
            for (int i = 0; i < 5; ++i) {
                for (int j = 0; j < 4; ++j) f += kernel[i][j] * (rows[i][j] + rows[i][8 - j]);
                f += kernel[i][4] * rows[i][4];
            }
            ss += static_cast<double>(f) * static_cast<double>(f);
        }
    const double power = ss / (static_cast<double>(g.width) * g.height);
    const double c = 180000.0;
    return 100.0 * power * power / (power * power + c * c);
}

IrisAssessment iris_assess(const ImageView& grey) {
    IrisAssessment out;
    const Pyramid& pyr = build_pyramid(grey);
    out.location = locate_on(pyr);
    if (out.location.found) {
        out.measures = measures_on(pyr, out.location.pupil, out.location.iris);
        out.measured = true;
    }
    out.sharpness = iris_sharpness(grey);
    return out;
}

}  // namespace bqat
