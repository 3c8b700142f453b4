// Iris localisation and the ISO/IEC 29794-6 iris measures (see bqat/iris.hpp).
//
// Localisation, coarse to fine on a pyramid of 2 x 2 means:
//   1. dark round regions: on the level ~90-180 px on its shorter side, bright islands (specular
//      highlights) are lowered to their surroundings by grey-level reconstruction, then a
//      centre-surround box contrast (integral images) over centres and radii (3-25 % of the
//      shorter side) picks the four best pupil candidates;
//   2. pupil circle: Daugman's integro-differential operator, the radial step of the mean grey on
//      full circles (samples brighter than the iris half-way to white left out), weighted towards
//      a dark inside, searched about each candidate where its radius is 6-12 px (centres every
//      2 px, then the 3 x 3 about the best); a candidate whose boundary holds on fewer than half
//      of 16 sectors is not a pupil. A pupil seen in part (an eyelid over more than half of it)
//      leaves a D-shaped dark region in which that operator fits an inscribed circle: when the
//      full circle is not a boundary on every side, or the ring just outside it is as dark as the
//      pupil in places (inscribed in a larger dark region), boundary points (outward steps from a
//      dark inside) on 48 rays from the region's centre (out to 5 region radii: the region left
//      below a lid can be far thinner than the pupil) are fitted by a consensus circle (RANSAC),
//      which follows the pupil's arc and not the straight lid margin, and replaces the full-circle
//      fit when clearly more points lie on it (such an "arc" pupil needs 30% of its sides seen;
//      its grey is that of its visible dark part). A candidate around a smaller, clearly darker
//      one is the iris around a pupil, not a pupil;
//   3. iris circle, about the two best pupils: the plain step on the two lateral arcs (-30..45
//      degrees on each side, clear of most eyelids) with the pupil and its edge left out, radii
//      from 1.1 pupil radii beyond the pupil out to 6.5 pupil radii, the centre within 0.7 pupil
//      radii of the pupil's and within 0.2 of the iris radius (pupils sit a little off-centre),
//      on the level where the pupil radius is 4-8 px; the near radii (iris under 1.85 pupil
//      radii: a dilated pupil, ratio above ~0.55, whose thin ring that level cannot resolve) are
//      searched again where the pupil radius is 12-24 px, and the stronger limbus wins;
//   4. the candidate with the largest steps around the darkest pupil, with no dark ring just
//      outside it, wins (checks: steps, an iris brighter than the pupil, ratio 0.1-0.85, pupil
//      inside the iris; one whose circles lose their boundary at full size gives way to the next);
//      its circles are refined level by level to full size (sub-pixel): the pupil by the operator
//      and then refitted by least squares to its boundary points (the centre of an elliptical
//      pupil), or an arc pupil by its consensus circle on each level (at full size, four times
//      from the last centre, a ray per pixel of arc, 0.35 px tolerance, points with pupil 3 px
//      inside them: a short arc's circle is sensitive to its ends); boundary points are looked
//      for no further than half-way to the limbus (a dilated pupil's limbus is the larger step
//      within 1.4 pupil radii). The limbus is refined on its lateral arcs trimmed of their ends where an eyelid
//      hides the step, over 5 x 5 centres at full size, scored at the parabola's vertex in radius;
//      where a lid trimmed one side's ends by 20 degrees or more (a lid near or past the iris
//      centre), the circle is then refitted to limbus edge points on the visible lateral arcs and
//      the arc opposite the lid (consensus circle and least squares).
// Occlusion: the iris annulus is sampled on a 256 x 32 polar grid about the iris centre; cells far
// from the iris grey level (robust statistics of iris actually seen: at the angles where the pupil
// shows its edge, the lateral ones first) that form a region reaching the outer boundary are
// eyelid/eyelash; pixels at or above the specular threshold are highlights.
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

// Where the samples of circle_means fall relative to the centre's integer pixel, for one set of
// rays, radii and fractional centre: shared by every centre of a search grid (the grid moves in
// whole pixels), so that each sample costs four reads and three interpolations.
struct SamplePlan {
    std::vector<Ray> rays;
    int w = 0, r0 = 0, r1 = -1;
    double fx = -1.0, fy = -1.0;
    int min_x = 0, max_x = 0, min_y = 0, max_y = 0;  // extent of the top-left pixels read
    struct At {
        int offset;      // y0 * w + x0 from the centre's pixel
        float tx, ty;    // bilinear weights
        float x, y;      // the sample relative to the centre's pixel
    };
    std::vector<At> at;  // ray-major, radii r0..r1
};

inline int floor_int(double v) {
    const int i = static_cast<int>(v);
    return i - (v < i);
}

void build_plan(SamplePlan& plan, int w, double fx, double fy, int r0, int r1, const std::vector<Ray>& rays) {
    plan.rays = rays;
    plan.w = w;
    plan.fx = fx;
    plan.fy = fy;
    plan.r0 = r0;
    plan.r1 = r1;
    const int n = r1 - r0 + 1;
    plan.at.resize(rays.size() * static_cast<std::size_t>(n));
    plan.min_x = plan.min_y = std::numeric_limits<int>::max();
    plan.max_x = plan.max_y = std::numeric_limits<int>::min();
    for (std::size_t k = 0; k < rays.size(); ++k)
        for (int i = 0; i < n; ++i) {
            const double r = r0 + i;
            const double x = fx + r * rays[k].c, y = fy + r * rays[k].s;
            const int x0 = floor_int(x), y0 = floor_int(y);
            plan.min_x = std::min(plan.min_x, x0);
            plan.max_x = std::max(plan.max_x, x0);
            plan.min_y = std::min(plan.min_y, y0);
            plan.max_y = std::max(plan.max_y, y0);
            plan.at[k * n + i] = {y0 * w + x0, static_cast<float>(x - x0), static_cast<float>(y - y0),
                                  static_cast<float>(x), static_cast<float>(y)};
        }
}

// Mean grey on circles of radius r0..r1 (integers, plane pixels) about (cx, cy) along `rays`;
// samples outside the plane, above `skip_above` or inside `hole` are left out; NaN where fewer
// than a third of the rays gave a sample.
void circle_means(const Plane& p, double cx, double cy, int r0, int r1, const std::vector<Ray>& rays,
                  float skip_above, std::vector<float>& sums, std::vector<int>& counts,
                  std::vector<float>& means, const Hole& hole = {}, SamplePlan* plan = nullptr) {
    const int n = r1 - r0 + 1;
    sums.assign(n, 0.0f);
    counts.assign(n, 0);
    means.resize(n);
    const double hole2 = hole.r > 0 ? hole.r * hole.r : -1.0;
    const double bx = std::floor(cx), by = std::floor(cy);
    const double fx = cx - bx, fy = cy - by;
    if (plan) {
        const bool same = plan->rays.size() == rays.size() && plan->w == p.w && plan->fx == fx && plan->fy == fy &&
                          std::equal(rays.begin(), rays.end(), plan->rays.begin(), [](const Ray& a, const Ray& b) {
                              return a.c == b.c && a.s == b.s;
                          });
        if (!same || r0 < plan->r0 || r1 > plan->r1)
            build_plan(*plan, p.w, fx, fy, same ? std::min(r0, plan->r0) : r0, same ? std::max(r1, plan->r1) : r1,
                       rays);
    }
    const int ix = static_cast<int>(bx), iy = static_cast<int>(by);
    if (plan && ix + plan->min_x >= 0 && ix + plan->max_x + 1 <= p.w - 1 && iy + plan->min_y >= 0 &&
        iy + plan->max_y + 1 <= p.h - 1) {
        // Every sample inside the plane: no bounds checks.
        const float* base = p.px.data() + static_cast<std::ptrdiff_t>(iy) * p.w + ix;
        const int w = p.w, stride = plan->r1 - plan->r0 + 1, skip = r0 - plan->r0;
        const float hx = static_cast<float>(hole.x - bx), hy = static_cast<float>(hole.y - by);
        const float h2 = static_cast<float>(hole2);
        for (std::size_t k = 0; k < rays.size(); ++k) {
            const SamplePlan::At* a = plan->at.data() + k * stride + skip;
            for (int i = 0; i < n; ++i) {
                const SamplePlan::At& s = a[i];
                if (h2 > 0 && (s.x - hx) * (s.x - hx) + (s.y - hy) * (s.y - hy) < h2) continue;
                const float* q = base + s.offset;
                const float top = q[0] + s.tx * (q[1] - q[0]);
                const float bottom = q[w] + s.tx * (q[w + 1] - q[w]);
                const float v = top + s.ty * (bottom - top);
                if (v <= skip_above) {
                    sums[i] += v;
                    ++counts[i];
                }
            }
        }
    } else {
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
    SamplePlan plan;
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
    circle_means(p, cx, cy, ra - 2, rb + 2, rays, s.skip_above, sc.sums, sc.counts, sc.means, hole, &sc.plan);
    int best_i = -1;
    for (int r = ra; r <= rb; ++r) {
        const double d = objective(sc.means, r - ra + 2, s.dark);
        if (d > best.step) {
            best = {cx, cy, static_cast<double>(r), d, step_at(sc.means, r - ra + 2)};
            best_i = r - ra + 2;
        }
    }
    // The limbus scores the vertex of the parabola through the best radius and its neighbours:
    // integer radii alone leave one-pixel ripples in the step over centres.
    if (best_i >= 0 && s.around_pupil && best_i - 1 >= 2 && best_i + 1 <= static_cast<int>(sc.means.size()) - 3) {
        const double a = objective(sc.means, best_i - 1, false), c = objective(sc.means, best_i + 1, false);
        const double d = a - 2.0 * best.step + c;
        if (a != kNone && c != kNone && d < 0.0) best.step -= (a - c) * (a - c) / (8.0 * d);
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

// best_circle over the window's centres every 2 px, then over the 3 x 3 about the best.
Fit coarse_to_fine(const Plane& p, Search s, const std::vector<Ray>& rays, Scratch& sc) {
    s.stride = 2;
    const Fit f = best_circle(p, s, rays, sc);
    if (f.step == kNone) return f;
    s.cx = f.x;
    s.cy = f.y;
    s.window = 1;
    s.stride = 1;
    return best_circle(p, s, rays, sc);
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
    bool arc = false;        // the pupil is seen in part: fitted to boundary points, not full circles
    double dark = 0.0;       // grey at or below which a boundary point's inner side is pupil
    double dark_outside = 0.0;  // share of the ring just outside the pupil as dark as the pupil
    double min_step = 0.0;   // smallest step a pupil boundary point takes
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

// The step across circle `c` (plane pixels) at angle `a`: the mean of the samples 1 and 2 px
// outside minus that of the samples 1 and 2 px inside, samples above `skip_above` left out;
// kNone when a side has no sample.
double step_across(const Plane& p, const IrisCircle& c, double a, float skip_above) {
    const double cs = std::cos(a), sn = std::sin(a);
    double out = 0.0, in = 0.0;
    int no = 0, ni = 0;
    for (int d = 1; d <= 2; ++d) {
        float v;
        if (p.sample(c.x + (c.r + d) * cs, c.y + (c.r + d) * sn, v) && v <= skip_above) {
            out += v;
            ++no;
        }
        if (p.sample(c.x + (c.r - d) * cs, c.y + (c.r - d) * sn, v) && v <= skip_above) {
            in += v;
            ++ni;
        }
    }
    return no && ni ? out / no - in / ni : kNone;
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
            const double step = step_across(p, {f.x, f.y, f.r}, a, skip_above);
            if (step != kNone) {
                sum += step;
                ++n;
            }
        }
        if (n && sum / n >= 0.5 * f.raw) ++support;
    }
    return static_cast<double>(support) / sectors;
}

// ---------------------------------------------------------------------------------------------
// Pupils seen in part: circles through boundary points
//
// An upper eyelid over more than half of the pupil leaves a dark region bounded by the lower arc
// of the pupil and by the straight lid margin; a full-circle operator then fits a small circle
// inscribed in that region. Boundary points read along rays (outward steps from a dark side) fit
// the pupil instead: a consensus circle (RANSAC) follows the arc, not the straight margin, whose
// points lie on no circle of a pupil's size.

struct EdgePoint {
    double x, y, step;
};

// Along `rays` from (cx, cy), the radius in [t0, t1] of the largest outward step (samples
// 1.5 px beyond minus 1.5 px within, every 0.5 px) with the inner sample at most `dark` and the
// outer below `skip`, when it reaches `min_step`; sub-pixel, in the coordinates of `p`. With
// `deep` > 0 the sample `deep` px within must also be at most `deep_dark` (the point has pupil,
// not a blurred eyelid corner, behind it).
std::vector<EdgePoint> ray_edges(const Plane& p, double cx, double cy, double t0, double t1,
                                 const std::vector<Ray>& rays, double dark, double min_step, float skip,
                                 double deep = 0.0, double deep_dark = 0.0) {
    std::vector<EdgePoint> out;
    if (t1 <= t0) return out;
    constexpr double kStep = 0.5;
    constexpr int kHalf = 3;  // 1.5 px
    const int samples = static_cast<int>((t1 - t0) / kStep) + 1 + 2 * kHalf;
    std::vector<float> v(samples);
    std::vector<double> d(samples);
    for (const Ray& ray : rays) {
        const double c = ray.c, s = ray.s;
        for (int i = 0; i < samples; ++i) {
            const double t = t0 + (i - kHalf) * kStep;
            float x;
            v[i] = p.sample(cx + t * c, cy + t * s, x) ? x : std::numeric_limits<float>::quiet_NaN();
        }
        int best = -1;
        double best_d = min_step;
        for (int i = kHalf; i + kHalf < samples; ++i) {
            const float in = v[i - kHalf], o = v[i + kHalf];
            d[i] = kNone;
            if (std::isnan(in) || std::isnan(o) || in > dark || o >= skip) continue;
            float w;
            const double td = t0 + (i - kHalf) * kStep - deep;
            if (deep > 0.0 && (!p.sample(cx + td * c, cy + td * s, w) || w > deep_dark)) continue;
            d[i] = o - in;
            if (d[i] > best_d) {
                best_d = d[i];
                best = i;
            }
        }
        if (best < 0) continue;
        double t = t0 + (best - kHalf) * kStep;
        if (best - 1 >= kHalf && best + 1 + kHalf < samples && d[best - 1] != kNone && d[best + 1] != kNone)
            t += kStep * peak_offset(d[best - 1], best_d, d[best + 1]);
        out.push_back({cx + t * c, cy + t * s, best_d});
    }
    return out;
}

// Least-squares (Kasa) circle through the points whose `use` flag is set; false when singular.
bool kasa_fit(const std::vector<EdgePoint>& pts, const std::vector<char>& use, IrisCircle& out) {
    double mx = 0.0, my = 0.0;
    int n = 0;
    for (std::size_t i = 0; i < pts.size(); ++i)
        if (use[i]) {
            mx += pts[i].x;
            my += pts[i].y;
            ++n;
        }
    if (n < 3) return false;
    mx /= n;
    my /= n;
    double m[3][4] = {};
    for (std::size_t i = 0; i < pts.size(); ++i) {
        if (!use[i]) continue;
        const double x = pts[i].x - mx, y = pts[i].y - my;
        const double row[4] = {x, y, 1.0, -(x * x + y * y)};
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 4; ++b) m[a][b] += row[a] * row[b];
    }
    for (int c = 0; c < 3; ++c) {  // Gauss-Jordan with partial pivoting
        int pivot = c;
        for (int r = c + 1; r < 3; ++r)
            if (std::fabs(m[r][c]) > std::fabs(m[pivot][c])) pivot = r;
        if (std::fabs(m[pivot][c]) < 1e-12) return false;
        for (int j = 0; j < 4; ++j) std::swap(m[c][j], m[pivot][j]);
        for (int r = 0; r < 3; ++r) {
            if (r == c) continue;
            const double f = m[r][c] / m[c][c];
            for (int j = 0; j < 4; ++j) m[r][j] -= f * m[c][j];
        }
    }
    const double D = m[0][3] / m[0][0], E = m[1][3] / m[1][1], F = m[2][3] / m[2][2];
    const double x = -0.5 * D, y = -0.5 * E, r2 = x * x + y * y - F;
    if (!(r2 > 0.0)) return false;
    out = {mx + x, my + y, std::sqrt(r2)};
    return true;
}

int inliers_of(const std::vector<EdgePoint>& pts, const IrisCircle& c, double tol, std::vector<char>* mark = nullptr) {
    int n = 0;
    if (mark) mark->assign(pts.size(), 0);
    const double lo = std::max(0.0, c.r - tol), lo2 = lo * lo, hi2 = (c.r + tol) * (c.r + tol);
    for (std::size_t i = 0; i < pts.size(); ++i) {
        const double dx = pts[i].x - c.x, dy = pts[i].y - c.y, d2 = dx * dx + dy * dy;
        if (d2 >= lo2 && d2 <= hi2) {
            ++n;
            if (mark) (*mark)[i] = 1;
        }
    }
    return n;
}

// The circle through the most points (within `tol`) among circles through point triples (a fixed
// pseudo-random sequence of 300 triples), radius in [rmin, rmax] and centre within `reach` of
// (bx, by), refitted by least squares to its inliers; the inlier count (0: none).
int consensus_circle(const std::vector<EdgePoint>& pts, double tol, double rmin, double rmax, double bx,
                     double by, double reach, IrisCircle& out, std::vector<char>& inliers) {
    const int n = static_cast<int>(pts.size());
    if (n < 6) return 0;
    std::uint32_t state = 12345u;
    auto next = [&](int m) {
        state = state * 1664525u + 1013904223u;
        return static_cast<int>((state >> 8) % static_cast<std::uint32_t>(m));
    };
    int best = 0;
    IrisCircle found;
    for (int it = 0; it < 300; ++it) {
        const int i = next(n), j = next(n), k = next(n);
        if (i == j || j == k || i == k) continue;
        const EdgePoint &A = pts[i], &B = pts[j], &C = pts[k];
        const double bx2 = B.x - A.x, by2 = B.y - A.y, cx2 = C.x - A.x, cy2 = C.y - A.y;
        const double det = 2.0 * (bx2 * cy2 - by2 * cx2);
        if (std::fabs(det) < 1e-9) continue;
        const double b2 = bx2 * bx2 + by2 * by2, c2 = cx2 * cx2 + cy2 * cy2;
        const double ux = (cy2 * b2 - by2 * c2) / det, uy = (bx2 * c2 - cx2 * b2) / det;
        const IrisCircle circle{A.x + ux, A.y + uy, std::hypot(ux, uy)};
        if (circle.r < rmin || circle.r > rmax || std::hypot(circle.x - bx, circle.y - by) > reach) continue;
        const int count = inliers_of(pts, circle, tol);
        if (count > best) {
            best = count;
            found = circle;
        }
    }
    if (best < 3) return 0;
    inliers_of(pts, found, tol, &inliers);
    IrisCircle refit;
    if (kasa_fit(pts, inliers, refit) && refit.r >= rmin && refit.r <= rmax) {
        const int count = inliers_of(pts, refit, tol);
        if (count >= best) {
            found = refit;
            best = count;
            inliers_of(pts, found, tol, &inliers);
        }
    }
    out = found;
    return best;
}

// Share of 16 sectors about `c` holding at least one of the marked points.
double arc_coverage(const std::vector<EdgePoint>& pts, const std::vector<char>& mark, const IrisCircle& c) {
    std::array<bool, 16> hit{};
    for (std::size_t i = 0; i < pts.size(); ++i) {
        if (!mark[i]) continue;
        double a = std::atan2(pts[i].y - c.y, pts[i].x - c.x);
        if (a < 0) a += 2.0 * kPi;
        hit[std::min(15, static_cast<int>(a / (2.0 * kPi) * 16))] = true;
    }
    return std::count(hit.begin(), hit.end(), true) / 16.0;
}

// Share of 48 samples on each of the circles 1.15 r + 1 and 1.3 r + 1 px about the circle (plane
// pixels) at or below `dark`: near 0 for a pupil (iris or eyelid around it), large for a circle
// inscribed in a larger dark region (the part of a pupil left below an eyelid).
double dark_outside(const Plane& p, double x, double y, double r, double dark) {
    int dark_count = 0, count = 0;
    for (const Ray& ray : circle_rays(48))
        for (const double t : {1.15 * r + 1.0, 1.3 * r + 1.0}) {
            float v;
            if (!p.sample(x + t * ray.c, y + t * ray.s, v)) continue;
            ++count;
            dark_count += v <= dark;
        }
    return count ? static_cast<double>(dark_count) / count : 0.0;
}

// Mean grey of the samples inside the circle (plane pixels; 48 rays, a sample every pixel of
// radius) at or below `dark`: the visible part of a pupil under an eyelid; -1 when none is.
double dark_part_mean(const Plane& p, double x, double y, double r, double dark) {
    double sum = 0.0;
    int count = 0;
    for (const Ray& ray : circle_rays(48))
        for (double t = 0.5; t < r; t += 1.0) {
            float v;
            if (p.sample(x + t * ray.c, y + t * ray.s, v) && v <= dark) {
                sum += v;
                ++count;
            }
        }
    return count ? sum / count : -1.0;
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
    const Fit f = coarse_to_fine(p, s, circle_rays(pupil_rays(r)), sc);
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
    // The pupil seen in part (the full circle is not a boundary on every side, or pupil-dark grey
    // just outside it): boundary points on 48 rays from the dark region's centre (0.2-5 of its
    // radii, inner side darker than half-way from the region to its surround); a consensus circle
    // (radius 0.6-5, centre within 4 region radii) through clearly more of them than the
    // full-circle fit replaces it.
    c.dark = b.inner + 0.5 * (b.ring - b.inner);
    c.min_step = std::max(10.0, 0.3 * (b.ring - b.inner));
    c.dark_outside = dark_outside(p, f.x, f.y, f.r, c.dark);
    if (c.pupil_support >= 1.0 && c.dark_outside < 0.1) return c;
    const double bx = to_level(X, lp), by = to_level(Y, lp);
    const auto pts = ray_edges(p, bx, by, 0.2 * r, 5.0 * r, circle_rays(48), c.dark, c.min_step, s.skip_above);
    IrisCircle arc;
    std::vector<char> mark;
    const int found = consensus_circle(pts, 1.0, 0.6 * r, 5.0 * r, bx, by, 4.0 * r, arc, mark);
    const int agree = inliers_of(pts, {f.x, f.y, f.r}, 1.0);
    if (found >= 8 && found >= agree + 3) {
        double steps = 0.0;
        for (std::size_t i = 0; i < pts.size(); ++i)
            if (mark[i]) steps += pts[i].step;
        c.arc = true;
        c.pupil = {from_level(arc.x, lp), from_level(arc.y, lp), arc.r * (1 << lp)};
        c.pupil_coarse = steps / found;
        c.pupil_support = arc_coverage(pts, mark, arc);
        // The pupil's grey is that of its visible part (the rest of the circle's inside is eyelid).
        const double visible = dark_part_mean(p, arc.x, arc.y, arc.r, c.dark);
        c.pupil_inner = c.blob_inner = visible >= 0.0 ? visible : b.inner;
        c.dark_outside = dark_outside(p, arc.x, arc.y, arc.r, c.dark);
    }
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
    const auto arcs = iris_arcs(16);
    Fit g = coarse_to_fine(q, iris_search(pyr, li, c.pupil), arcs, sc);
    if (g.step == kNone) {
        c.reason = "no iris boundary around the pupil";
        return;
    }
    // A dilated pupil (iris under 1.85 pupil radii) leaves too thin a ring on that level for the
    // step beyond the pupil's edge: the near radii are searched again where the pupil radius is
    // 12-24 px, and a stronger limbus there wins.
    int ln = li;
    while (ln > 0 && c.pupil.r / (1 << ln) < 12.0) --ln;
    if (ln < li) {
        const Plane& qn = pyr.levels[ln];
        Search u = iris_search(pyr, ln, c.pupil);
        u.rmax = std::min(u.rmax, 1.85 * u.pr);
        // The pupil fits in the iris: an iris under 1.85 pupil radii is nearly concentric with it.
        u.window = std::max(2, static_cast<int>(std::ceil(0.15 * u.pr)) + 1);
        const Fit h = coarse_to_fine(qn, u, arcs, sc);
        if (h.step != kNone && h.raw > g.raw) {
            g = h;
            li = ln;
            c.iris_level = ln;
        }
    }
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

// The lateral arcs of the limbus (degrees) that the refinement reads: -30..45 and 135..210, each
// trimmed from its ends while the step across the coarse circle there is under 0.35 of the
// upper-quartile step (an eyelid over the upper or lower part of the arc), to no less than 30
// degrees. A mean over rays that lid skin hides on both sides would otherwise be raised by
// moving the circle so that more of its rays clear the lid.
struct Arcs {
    std::array<std::pair<double, double>, 2> sectors{{{-30.0, 45.0}, {135.0, 210.0}}};
};

// Rays over the sectors (degrees), `per_degree` of them per degree of each and at least 4.
std::vector<Ray> spread_rays(const std::vector<std::pair<double, double>>& sectors, double per_degree) {
    std::vector<Ray> rays;
    for (const auto& sector : sectors) {
        const int n = std::max(4, static_cast<int>(std::lround(per_degree * (sector.second - sector.first))));
        const auto part = sector_rays({sector}, n);
        rays.insert(rays.end(), part.begin(), part.end());
    }
    return rays;
}

std::vector<Ray> arcs_rays(const Arcs& arcs, double r) {
    return spread_rays({arcs.sectors.begin(), arcs.sectors.end()}, arc_rays(r) / 75.0);
}

Arcs visible_arcs(const Plane& p, const IrisCircle& level_circle) {
    constexpr int kBins = 30;  // 2.5 degrees each
    constexpr int kKeep = 12;  // 30 degrees
    Arcs out;
    std::array<std::array<double, kBins>, 2> step{};
    std::vector<float> finite;
    for (int s = 0; s < 2; ++s)
        for (int i = 0; i < kBins; ++i) {
            const double a = (out.sectors[s].first + 2.5 * (i + 0.5)) * kPi / 180.0;
            step[s][i] = step_across(p, level_circle, a, kNoSkip);
            if (step[s][i] != kNone) finite.push_back(static_cast<float>(step[s][i]));
        }
    if (finite.size() < 8) return out;
    const std::size_t q = finite.size() * 3 / 4;
    std::nth_element(finite.begin(), finite.begin() + q, finite.end());
    const double bar = 0.35 * finite[q];
    if (!(bar > 0.0)) return out;
    for (int s = 0; s < 2; ++s) {
        int lo = 0, hi = kBins - 1;
        while (hi - lo + 1 > kKeep && step[s][lo] < bar) ++lo;
        while (hi - lo + 1 > kKeep && step[s][hi] < bar) --hi;
        const double from = out.sectors[s].first;
        out.sectors[s] = {from + 2.5 * lo, from + 2.5 * (hi + 1)};
    }
    return out;
}

// Refines a coarse circle found on level `from` down to full size: on each level the doubled
// circle's centre climbs to the best of its 3 x 3 neighbours (radius +-2 px) until it is the best,
// and the full-size optimum is interpolated to sub-pixel.
Fit descend(const Pyramid& pyr, int from, const IrisCircle& coarse, bool iris, const IrisCircle& pupil,
            float skip_above, Scratch& sc, const Arcs& arcs = {}) {
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
        const auto rays = iris ? arcs_rays(arcs, f.r) : circle_rays(pupil_rays(f.r));
        // At full size the limbus climbs over 5 x 5 neighbours: on short arcs (eyelids) its step
        // has shallow local maxima one pixel apart.
        s.window = iris && k == 0 ? 2 : 1;
        // Centres already scored on this level are not scored again as the window moves.
        std::vector<std::pair<std::pair<double, double>, Fit>> seen;
        auto score = [&](double x, double y) {
            for (const auto& [at, fit] : seen)
                if (at.first == x && at.second == y) return fit;
            const Fit fit = best_radius(p, s, x, y, rays, sc);
            seen.push_back({{x, y}, fit});
            return fit;
        };
        for (int climb = 0; climb < 4; ++climb) {
            Fit g;
            for (int j = -s.window; j <= s.window; ++j)
                for (int i = -s.window; i <= s.window; ++i) {
                    const Fit h = score(f.x + i, f.y + j);
                    if (h.step > g.step) g = h;
                }
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
    if (c.pupil_support < (c.arc ? 0.3 : 0.5))
        return c.arc ? "no pupil: the dark region's boundary follows a circle on under 30% of its sides"
                     : "no pupil: the dark region's boundary is a circle on fewer than half of its sides";
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

// How much a candidate looks like a pupil, 0..1: its boundary all round, no dark ring just outside
// it (a circle inscribed in the part of a pupil left below a lid has one; half of it dark scores
// 0), and a dark inside (the darkness weight keeps a dark iris, with the pupil inside it, from
// passing for a pupil).
double pupil_weight(const Candidate& c) {
    return c.pupil_support * std::max(0.0, 1.0 - 2.0 * c.dark_outside) * 40.0 / (std::max(0.0, c.blob_inner) + 40.0);
}

// Strong boundaries around a pupil.
double score_of(const Candidate& c) { return (c.pupil_coarse + c.iris_coarse) * pupil_weight(c); }

IrisCircle refit_pupil(const Pyramid& pyr, const IrisCircle& P, double specular, double limit);

// How far from the pupil centre its boundary may be looked for: half-way to the limbus.
double pupil_limit(const IrisCircle& P, const IrisCircle& I) {
    if (!(I.r > 0.0)) return std::numeric_limits<double>::infinity();
    return 0.5 * (P.r + I.r - std::hypot(P.x - I.x, P.y - I.y));
}

// A pupil seen in part, refined level by level down to full size: boundary points on a ray per
// pixel of circumference (64-256) from the current centre within 0.75-1.3 radii (and short of the
// limbus), with pupil 3 px (full size) inside them, the consensus circle (1 px; 0.35 px at full
// size) through them refitted to its points; `step` is their mean step at the finest level. A
// short arc's circle swings with the points at its ends (where the lid margin blurs the edge):
// the tight tolerance leaves those out, and full size is read four times, each from the centre
// found before (rays from a centre a few pixels off meet the arc's ends obliquely).
IrisCircle descend_arc(const Pyramid& pyr, const Candidate& c, double& step) {
    IrisCircle P = c.pupil;
    const double limit = pupil_limit(c.pupil, c.iris);
    std::vector<int> levels;
    for (int k = c.pupil_level; k > 0; --k) levels.push_back(k);
    levels.insert(levels.end(), 4, 0);
    for (const int k : levels) {
        const Plane& p = pyr.levels[k];
        const double scale = static_cast<double>(1 << k);
        const double cx = to_level(P.x, k), cy = to_level(P.y, k), r = P.r / scale;
        const double hi = std::min(1.3 * r, limit / scale);
        const int rays = clampi(static_cast<int>(2.0 * kPi * r), 64, 256);  // a ray per pixel of arc
        const auto pts =
            ray_edges(p, cx, cy, 0.75 * r, hi, circle_rays(rays), c.dark, c.min_step, c.skip_above, 3.0 / scale,
                      0.5 * (c.pupil_inner + c.dark));
        IrisCircle a;
        std::vector<char> mark;
        const int found = consensus_circle(pts, k == 0 ? 0.35 : 1.0, 0.75 * r, hi, cx, cy, 0.3 * r, a, mark);
        if (found < 8) break;
        double steps = 0.0;
        for (std::size_t i = 0; i < pts.size(); ++i)
            if (mark[i]) steps += pts[i].step;
        step = steps / found;
        P = {from_level(a.x, k), from_level(a.y, k), a.r * scale};
    }
    return P;
}

// Where an eyelid trimmed the lateral arcs by 20 degrees or more on one side (the upper ends, or
// the lower ends, of both arcs together), the limbus is fitted to its own edge points at full
// size: with most of one half hidden, the mean step on the short lateral arcs left barely tells
// a lower centre from a smaller radius (every ray tilted the same way), and the other half's arc
// (45..135 degrees under an upper lid, 225..315 over a lower one) pins both. On rays across the
// visible lateral arcs and that arc, the largest outward step (dark iris to bright sclera, 1.5
// px each side) within 15% of the radius and beyond the pupil, when it reaches 0.3 of the arcs'
// step and half the median step of the points; the consensus circle (1.5 px) through them,
// refitted by least squares, so that the lid's margin, lashes and highlights, on no circle of
// the limbus's size, are left out. The input when under an eighth of the rays or a quarter of
// the sectors agree, or the fit moves more than a tenth of the radius.
IrisCircle refit_iris(const Plane& p, const IrisCircle& I, const IrisCircle& P, const Arcs& arcs, double step) {
    const Arcs full;
    const auto& [right, left] = arcs.sectors;
    const double upper = (right.first - full.sectors[0].first) + (full.sectors[1].second - left.second);
    const double lower = (full.sectors[0].second - right.second) + (left.first - full.sectors[1].first);
    if (std::max(upper, lower) < 20.0 || std::min(upper, lower) >= 20.0) return I;
    std::vector<std::pair<double, double>> sectors(arcs.sectors.begin(), arcs.sectors.end());
    sectors.push_back(upper >= 20.0 ? std::pair{45.0, 135.0} : std::pair{225.0, 315.0});
    double span = 0.0;
    for (const auto& [from, to] : sectors) span += to - from;
    // A ray every 3 px of the limbus, 24-128 in all.
    const double total = std::clamp(span * kPi / 180.0 * I.r / 3.0, 24.0, 128.0);
    const auto rays = spread_rays(sectors, total / span);
    const double t0 = std::max(0.85 * I.r, P.r + std::hypot(P.x - I.x, P.y - I.y) + 2.0);
    auto pts = ray_edges(p, I.x, I.y, t0, 1.15 * I.r, rays, 255.0, std::max(4.0, 0.3 * step), kNoSkip);
    std::vector<float> steps;
    for (const EdgePoint& e : pts) steps.push_back(static_cast<float>(e.step));
    const double bar = 0.5 * median_of(steps);
    pts.erase(std::remove_if(pts.begin(), pts.end(), [&](const EdgePoint& e) { return e.step < bar; }), pts.end());
    IrisCircle fit;
    std::vector<char> mark;
    const int found = consensus_circle(pts, 1.5, 0.9 * I.r, 1.1 * I.r, I.x, I.y, 0.1 * I.r, fit, mark);
    if (8 * found < static_cast<int>(rays.size()) || arc_coverage(pts, mark, fit) < 0.25) return I;
    if (std::hypot(fit.x - I.x, fit.y - I.y) > 0.1 * I.r || std::fabs(fit.r - I.r) > 0.1 * I.r) return I;
    return fit;
}

// Refines the winner's circles to full size: the pupil first (then refitted to its boundary
// points, which centres it on an elliptical pupil), then the iris around it.
void refine(const Pyramid& pyr, Candidate& c) {
    IRIS_STAGE("refine");
    Scratch sc;
    if (c.arc) {
        double step = kNone;
        c.pupil = descend_arc(pyr, c, step);
        c.pupil_step = step;
    } else {
        const Fit f = descend(pyr, c.pupil_level, c.pupil, false, {}, c.skip_above, sc);
        if (f.step != kNone) {
            c.pupil = refit_pupil(pyr, {f.x, f.y, f.r}, c.skip_above, pupil_limit({f.x, f.y, f.r}, c.iris));
            c.pupil_step = f.raw;
        }
    }
    const int li = c.iris_level;
    const Arcs arcs = visible_arcs(pyr.levels[li], {to_level(c.iris.x, li), to_level(c.iris.y, li), c.iris.r / (1 << li)});
    const Fit g = descend(pyr, li, c.iris, true, c.pupil, kNoSkip, sc, arcs);
    if (g.step != kNone) {
        c.iris = refit_iris(pyr.levels[0], {g.x, g.y, g.r}, c.pupil, arcs, g.raw);
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
    // A pupil holds no clearly darker round region: a candidate around another one's smaller
    // and darker pupil is the iris around it (which, under eyelids that hide most of the pupil,
    // can outscore the pupil's visible part).
    for (Candidate& c : out) {
        if (!c.reason.empty()) continue;
        for (const Candidate& d : out)
            if (&d != &c && d.reason.empty() && d.pupil.r < 0.7 * c.pupil.r &&
                std::hypot(d.pupil.x - c.pupil.x, d.pupil.y - c.pupil.y) + 0.5 * d.pupil.r < c.pupil.r &&
                d.pupil_inner <= c.pupil_inner - std::max(15.0, 0.3 * c.pupil_coarse)) {
                c.reason = "no pupil: a darker round region lies inside it (an iris around a pupil)";
                break;
            }
    }
    // The limbus is searched around the two darkest-bounded pupils only.
    std::vector<std::size_t> order(out.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto pupil_score = [&](std::size_t i) {
        const Candidate& c = out[i];
        return c.reason.empty() ? c.pupil_coarse * pupil_weight(c) : kNone;
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
        ic.dark_outside = c.dark_outside;
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
    std::vector<Candidate*> plausible;
    for (Candidate& c : coarse) {
        const std::string why = implausible(c);
        if (why.empty()) {
            plausible.push_back(&c);
        } else if (plausible.empty() && &c == &coarse.front()) {
            out.reason = why;
        }
    }
    if (plausible.empty()) return out;
    std::stable_sort(plausible.begin(), plausible.end(),
                     [](const Candidate* a, const Candidate* b) { return score_of(*a) > score_of(*b); });
    // Best first; one whose circles lose their boundary at full size (steps under the coarse
    // checks' 15 and 4 grey levels: a pupil fitted to an eyelid margin, the iris taken for the
    // pupil with no limbus around it) gives way to the next; no eye when none keeps them.
    Candidate best;
    bool kept = false;
    for (std::size_t i = 0; i < plausible.size() && !kept; ++i) {
        best = *plausible[i];
        refine(pyr, best);
        kept = best.pupil_step >= 15.0 && best.iris_step >= 4.0;
    }
    if (!kept) {
        out.reason = "no eye: no candidate keeps its pupil and limbus boundaries at full size";
        return out;
    }
    out.found = true;
    out.reason.clear();
    out.pupil = best.pupil;
    out.iris = best.iris;
    out.pupil_step = best.pupil_step;
    out.iris_step = best.iris_step;
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

// Median and robust spread (1.4826 MAD, at least 4 grey levels) of the values.
std::pair<double, double> robust_level(const std::vector<float>& values) {
    const double m = median_of(values);
    std::vector<float> deviation(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) deviation[i] = std::fabs(values[i] - m);
    return {m, std::max(4.0, 1.4826 * median_of(deviation))};
}

// Whether polar angle cell `a` lies in the lateral sectors of the iris (-20..50 and 130..200
// degrees, positive below the horizontal), clear of the eyelids in most open eyes.
bool lateral_angle(int a) {
    double deg = 360.0 * (a + 0.5) / kAngles;
    if (deg > 180.0) deg -= 360.0;
    return (deg >= -20.0 && deg <= 50.0) || deg >= 130.0 || deg <= -160.0;
}

// The iris grey level and spread (median and 1.4826 MAD of the cells at rho 0.1-0.8) from iris
// that is actually seen. Where the pupil shows its edge (the grey just inside the pupil boundary,
// `in_pupil`, at least 10 grey levels and half the upper-quartile step darker than the annulus
// next to it, rho 0.05-0.3), iris lies beyond it; an eyelid over that side has lid skin on both
// sides of the boundary. The cells of the lateral sectors at such angles make the reference
// (fixed lateral sectors alone turn into lid skin under a lid past the iris centre); every such
// angle when fewer than 16 are lateral (a lid over one whole side); the lateral sectors when the
// pupil edge shows at fewer than 16 angles (a pupil as dark as the iris); every cell when those
// are off the image.
std::pair<double, double> iris_reference(const std::vector<float>& value, const std::vector<std::uint8_t>& inside,
                                         const std::vector<float>& in_pupil) {
    constexpr int ring_to = kRadii * 3 / 10;  // rho 0.05-0.3
    std::vector<float> step(kAngles, std::numeric_limits<float>::quiet_NaN()), steps, cells;
    for (int a = 0; a < kAngles; ++a) {
        cells.clear();
        for (int j = 1; j < ring_to; ++j)
            if (inside[a * kRadii + j]) cells.push_back(value[a * kRadii + j]);
        if (cells.empty() || std::isnan(in_pupil[a])) continue;
        step[a] = static_cast<float>(median_of(cells) - in_pupil[a]);
        steps.push_back(step[a]);
    }
    std::vector<char> seen(kAngles, 0);
    int seen_count = 0, seen_lateral = 0;
    if (!steps.empty()) {
        const std::size_t q = steps.size() * 3 / 4;
        std::nth_element(steps.begin(), steps.begin() + q, steps.end());
        const double bar = std::max(10.0, 0.5 * steps[q]);
        for (int a = 0; a < kAngles; ++a) {
            seen[a] = !std::isnan(step[a]) && step[a] >= bar;
            seen_count += seen[a];
            seen_lateral += seen[a] && lateral_angle(a);
        }
    }
    auto gather = [&](auto&& use) {
        cells.clear();
        for (int a = 0; a < kAngles; ++a)
            for (int j = 0; j < kRadii; ++j) {
                const double rho = (j + 0.5) / kRadii;
                const int c = a * kRadii + j;
                if (inside[c] && rho >= 0.1 && rho <= 0.8 && use(a)) cells.push_back(value[c]);
            }
        return cells.size() >= 16;
    };
    if ((seen_lateral >= 16 && gather([&](int a) { return seen[a] && lateral_angle(a); })) ||
        (seen_count >= 16 && gather([&](int a) { return seen[a] != 0; })) || gather(lateral_angle)) {
        return robust_level(cells);
    }
    cells.clear();
    for (std::size_t c = 0; c < value.size(); ++c)
        if (inside[c]) cells.push_back(value[c]);
    return robust_level(cells);
}

Occlusion occlusion(const Pyramid& pyr, const IrisCircle& P, const IrisCircle& I) {
    IRIS_STAGE("occlusion");
    Occlusion o;
    int k = 0;
    while (k + 1 < static_cast<int>(pyr.levels.size()) && I.r / (1 << (k + 1)) >= 40.0) ++k;
    const Plane& p = pyr.levels[k];
    const int n = kAngles * kRadii;
    std::vector<float> value(n, 0.0f);
    std::vector<std::uint8_t> inside(n, 0);
    // Per angle, the grey just inside the pupil boundary (NaN where not sampled).
    std::vector<float> in_pupil(kAngles, std::numeric_limits<float>::quiet_NaN());
    const double into_pupil = std::max(2.0 * (1 << k), 0.15 * P.r);
    for (int a = 0; a < kAngles; ++a) {
        const double theta = 2.0 * kPi * (a + 0.5) / kAngles;
        const double ux = std::cos(theta), uy = std::sin(theta);
        const double t0 = pupil_distance(P, I, ux, uy);
        o.inner[a] = t0;
        float v;
        if (t0 > into_pupil && p.sample(to_level(I.x + (t0 - into_pupil) * ux, k),
                                        to_level(I.y + (t0 - into_pupil) * uy, k), v))
            in_pupil[a] = v;
        for (int j = 0; j < kRadii; ++j) {
            const double rho = (j + 0.5) / kRadii;
            const double t = t0 + rho * (I.r - t0);
            const int c = a * kRadii + j;
            if (p.sample(to_level(I.x + t * ux, k), to_level(I.y + t * uy, k), v)) {
                value[c] = v;
                inside[c] = 1;
            }
        }
    }
    const auto [m, s] = iris_reference(value, inside, in_pupil);
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

Boundary pupil_boundary(const Pyramid& pyr, const IrisCircle& P, double specular, double limit) {
    Boundary out;
    int k = 0;
    while (k + 1 < static_cast<int>(pyr.levels.size()) && P.r / (1 << (k + 1)) >= 24.0) ++k;
    const Plane& p = pyr.levels[k];
    const double scale = static_cast<double>(1 << k);
    const double cx = to_level(P.x, k), cy = to_level(P.y, k), r = P.r / scale;
    constexpr int N = kBoundaryRays;
    const double lo = 0.6 * r, hi = std::max(1.1 * r, std::min(1.4 * r, limit / scale)), step = 0.5;
    const int samples = static_cast<int>((hi - lo) / step) + 1;
    std::array<double, N> strength{};
    std::vector<double> profile(samples), d(samples);
    for (int n = 0; n < N; ++n) {
        int missing = 0;
        double cs[3], sn[3];
        for (int o = 0; o < 3; ++o) {
            const double a = 2.0 * kPi * (n + 0.25 * (o - 1)) / N;
            cs[o] = std::cos(a);
            sn[o] = std::sin(a);
        }
        for (int i = 0; i < samples; ++i) {
            const double t = lo + i * step;
            double sum = 0.0;
            int cnt = 0;
            for (int o = 0; o < 3; ++o) {
                float v;
                if (p.sample(cx + t * cs[o], cy + t * sn[o], v) && v < specular) {
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
IrisCircle refit_pupil(const Pyramid& pyr, const IrisCircle& P, double specular, double limit) {
    const Boundary b = pupil_boundary(pyr, P, specular, limit);
    if (2 * b.valid < kBoundaryRays) return P;
    std::vector<EdgePoint> points;
    for (int n = 0; n < kBoundaryRays; ++n) {
        if (!b.seen[n]) continue;
        const double a = 2.0 * kPi * n / kBoundaryRays;
        points.push_back({P.x + b.radius[n] * std::cos(a), P.y + b.radius[n] * std::sin(a), 0.0});
    }
    IrisCircle fit;
    if (!kasa_fit(points, std::vector<char>(points.size(), 1), fit) || std::hypot(fit.x - P.x, fit.y - P.y) > 0.3 * P.r)
        return P;
    return fit;
}

// ISO/IEC 29794-6 pupil boundary circularity from the boundary radii (gaps filled linearly).
IrisValue circularity(const Pyramid& pyr, const IrisCircle& P, const IrisCircle& I, double specular) {
    IRIS_STAGE("circularity");
    IrisValue out;
    const Boundary b = pupil_boundary(pyr, P, specular, pupil_limit(P, I));
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
    // Pupil pixels brighter than the iris by over 3 robust deviations are an eyelid over the
    // pupil (a pupil more than half covered), not pupil.
    const double pupil_ceiling = std::min(specular, occ.iris_level + 3.0 * occ.iris_spread);
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
                    if (v < pupil_ceiling) pupil_h.add(v);
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
    const char* no_pupil = "no pupil pixel within 0.8 pupil radii below the specular and eyelid thresholds";
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
    m.pupil_boundary_circularity = circularity(pyr, P, I, specular);
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
    // The kernel is symmetric about its middle row and column. For each output row: the rows
    // mirrored about it are summed across the image (F_0..F_3, and F_4 the middle row); then each
    // column x gets the five column responses C_j[x] = sum_i kernel[i][j] F_i[x] (contiguous,
    // vectorised); an output pixel x is sum_{j<4} (C_j[x - 4 + j] + C_j[x + 4 - j]) + C_4[x]. Every
    // value is an integer under 2^24 in magnitude, exact in float.
    double ss = 0.0;
    const int W = g.width;
    if (W < 9 || g.height < 9) return 0.0;
    thread_local std::vector<float> buffer;
    buffer.resize(static_cast<std::size_t>(10) * W);
    float* F[5];
    float* C[5];
    for (int i = 0; i < 5; ++i) {
        F[i] = buffer.data() + static_cast<std::size_t>(i) * W;
        C[i] = buffer.data() + static_cast<std::size_t>(5 + i) * W;
    }
    const std::ptrdiff_t ps = g.pixel_stride;
    for (int y = 4; y < g.height - 4; y += 4) {
        for (int i = 0; i < 5; ++i) {
            float* f = F[i];
            const std::uint8_t* a = g.pixel(y - 4 + i, 0);
            const std::uint8_t* b = g.pixel(y + 4 - i, 0);
            if (i == 4) {
                for (int x = 0; x < W; ++x) f[x] = a[x * ps];
            } else if (ps == 1) {
                for (int x = 0; x < W; ++x) f[x] = a[x] + b[x];
            } else {
                for (int x = 0; x < W; ++x) f[x] = a[x * ps] + b[x * ps];
            }
        }
        for (int j = 0; j < 5; ++j) {
            const float k0 = static_cast<float>(kernel[0][j]), k1 = static_cast<float>(kernel[1][j]),
                        k2 = static_cast<float>(kernel[2][j]), k3 = static_cast<float>(kernel[3][j]),
                        k4 = static_cast<float>(kernel[4][j]);
            float* c = C[j];
            const float *f0 = F[0], *f1 = F[1], *f2 = F[2], *f3 = F[3], *f4 = F[4];
            for (int x = 0; x < W; ++x) c[x] = k0 * f0[x] + k1 * f1[x] + k2 * f2[x] + k3 * f3[x] + k4 * f4[x];
        }
        for (int x = 4; x < W - 4; x += 4) {
            const float f = C[0][x - 4] + C[0][x + 4] + C[1][x - 3] + C[1][x + 3] +
                                C[2][x - 2] + C[2][x + 2] + C[3][x - 1] + C[3][x + 1] + C[4][x];
            ss += static_cast<double>(f) * static_cast<double>(f);
        }
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
