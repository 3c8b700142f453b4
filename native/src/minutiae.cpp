// Our minutiae extractor: where to look, enhancement, binarisation, thinning, crossing number,
// then the removal of spurious and border minutiae and a quality per minutia.
#include "bqat/minutiae.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bqat/minutiae_steps.hpp"

namespace bqat::minutiae {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kDx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
constexpr int kDy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

struct Candidate {
    int x, y;
    int kind;  // 1 ending, 2 bifurcation
    double angle = 0;
    bool keep = true;
};

struct Skeleton {
    const std::vector<std::uint8_t>& bits;
    int w, h;
    bool on(int x, int y) const {
        return x >= 0 && x < w && y >= 0 && y < h && bits[static_cast<std::size_t>(y) * w + x];
    }
};

// Where a walk along the skeleton ended.
struct Walk {
    int x, y;
    int steps;
    bool at_minutia;  // stopped on a pixel whose crossing number is not 2
};

// Follows the skeleton from (x, y) through neighbour `first` for at most `limit` steps.
Walk walk(const Skeleton& s, int x, int y, int first, int limit) {
    int px = x, py = y;
    int cx = x + kDx[first], cy = y + kDy[first];
    for (int step = 1; step <= limit; ++step) {
        const int cn = crossing_number(s.bits, s.w, s.h, cx, cy);
        if (cn != 2) return {cx, cy, step, true};
        // The next pixel: a neighbour that is neither where we came from nor next to it.
        int nx = -1, ny = -1;
        for (int k = 0; k < 8; ++k) {
            const int qx = cx + kDx[k], qy = cy + kDy[k];
            if (!s.on(qx, qy) || (qx == px && qy == py)) continue;
            if (std::abs(qx - px) <= 1 && std::abs(qy - py) <= 1) continue;
            nx = qx;
            ny = qy;
            if (k % 2 == 0) break;  // prefer a 4-neighbour
        }
        if (nx < 0) return {cx, cy, step, true};
        px = cx;
        py = cy;
        cx = nx;
        cy = ny;
    }
    return {cx, cy, limit, false};
}

// The neighbours of (x, y) that start a branch: the first of each run of set neighbours.
std::vector<int> branches(const Skeleton& s, int x, int y) {
    std::vector<int> out;
    bool v[8];
    for (int k = 0; k < 8; ++k) v[k] = s.on(x + kDx[k], y + kDy[k]);
    for (int k = 0; k < 8; ++k) {
        if (!v[k] || v[(k + 7) & 7]) continue;
        // Prefer the run's 4-neighbour (it continues the line; the diagonal may touch it).
        int best = k;
        for (int j = k; v[j & 7] && j < k + 8; ++j)
            if ((j & 7) % 2 == 0) {
                best = j & 7;
                break;
            }
        out.push_back(best);
    }
    return out;
}

}  // namespace

Minutiae extract(const nfiq2::Grey& image, const nfiq2::LocalFeatures& local, const nfiq2::Roi& roi,
                 const Params& params) {
    const double kMinRoiShare = params.min_roi_share, kMinCoherence = params.min_coherence;
    const int kBorderCells = params.border_cells, margin = params.image_margin;
    Minutiae result;
    const int w = image.width, h = image.height;
    if (w < 3 * kCell || h < 3 * kCell) return result;
    const OrientationField field = orientation_field(image);
    const double period = params.period > 0 ? params.period : ridge_period(local);
    // Usable cells: a clear ridge direction, and either mostly NIST's region of interest or as
    // much ridge contrast as the region's typical cell (NIST's ROI can cut through a print
    // that fills the image).
    const std::size_t cells = static_cast<std::size_t>(field.cols) * field.rows;
    std::vector<double> share(cells, 0.0);
    for (int cy = 0; cy < field.rows; ++cy) {
        for (int cx = 0; cx < field.cols; ++cx) {
            int in = 0, all = 0;
            for (int y = cy * kCell; y < std::min(cy * kCell + kCell, h); ++y)
                for (int x = cx * kCell; x < std::min(cx * kCell + kCell, w); ++x) {
                    in += roi.mask[static_cast<std::size_t>(y) * w + x];
                    ++all;
                }
            share[static_cast<std::size_t>(cy) * field.cols + cx] = static_cast<double>(in) / all;
        }
    }
    std::vector<double> energies;
    for (std::size_t c = 0; c < cells; ++c)
        if (share[c] >= kMinRoiShare) energies.push_back(field.energy[c]);
    double typical = 0;
    if (!energies.empty()) {
        std::nth_element(energies.begin(), energies.begin() + energies.size() / 2, energies.end());
        typical = energies[energies.size() / 2];
    }
    std::vector<std::uint8_t> usable(cells, 0);
    for (std::size_t c = 0; c < cells; ++c)
        usable[c] = field.coherence[c] >= kMinCoherence &&
                    (share[c] >= kMinRoiShare ||
                     (typical > 0 && field.energy[c] >= params.min_energy * typical));
    std::vector<std::uint8_t> where(static_cast<std::size_t>(w) * h, 0);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            where[static_cast<std::size_t>(y) * w + x] =
                usable[static_cast<std::size_t>(y / kCell) * field.cols + x / kCell];
    const std::vector<float> enhanced = enhance(image, field, period, where, params);
    std::vector<std::uint8_t> bits(where.size(), 0);
    for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = where[i] && enhanced[i] < 0;
    thin(bits, w, h);
    // Minutiae may sit only well inside the usable cells (the skeleton breaks at their edge).
    std::vector<std::uint8_t> inner(cells, 0);
    for (int cy = 0; cy < field.rows; ++cy)
        for (int cx = 0; cx < field.cols; ++cx) {
            bool ok = true;
            for (int dy = -kBorderCells; dy <= kBorderCells && ok; ++dy)
                for (int dx = -kBorderCells; dx <= kBorderCells; ++dx) {
                    const int x = cx + dx, y = cy + dy;
                    if (x < 0 || x >= field.cols || y < 0 || y >= field.rows ||
                        !usable[static_cast<std::size_t>(y) * field.cols + x]) {
                        ok = false;
                        break;
                    }
                }
            inner[static_cast<std::size_t>(cy) * field.cols + cx] = ok;
        }
    const Skeleton skel{bits, w, h};
    std::vector<Candidate> found;
    for (int y = 1; y < h - 1; ++y)
        for (int x = 1; x < w - 1; ++x) {
            if (!bits[static_cast<std::size_t>(y) * w + x]) continue;
            const int cn = crossing_number(bits, w, h, x, y);
            if (cn != 1 && cn != 3) continue;
            if (x < margin || y < margin || x >= w - margin || y >= h - margin) continue;
            if (!inner[static_cast<std::size_t>(y / kCell) * field.cols + x / kCell]) continue;
            found.push_back({x, y, cn == 1 ? 1 : 2});
        }
    // Spurs (an ending joined to a bifurcation), dots and short ridges (two endings) and lakes or
    // bridges (two bifurcations): pairs of minutiae joined by a short stretch of skeleton.
    const double reach_of[3][3] = {
        {0, 0, 0},
        {0, params.reach_dot * period, params.reach_spur * period},
        {0, params.reach_spur * period, params.reach_lake * period}};
    const int reach = static_cast<int>(std::ceil(
        std::max({params.reach_dot, params.reach_spur, params.reach_lake, 1.0}) * period));
    // Candidates by position (found is in raster order, so sorted by y w + x).
    auto candidate_at = [&](int x, int y) {
        const long key = static_cast<long>(y) * w + x;
        auto it = std::lower_bound(found.begin(), found.end(), key, [w](const Candidate& c, long k) {
            return static_cast<long>(c.y) * w + c.x < k;
        });
        return it != found.end() && it->x == x && it->y == y ? static_cast<int>(it - found.begin()) : -1;
    };
    std::vector<std::uint8_t> drop(found.size(), 0);
    for (std::size_t i = 0; i < found.size(); ++i) {
        Candidate& m = found[i];
        const std::vector<int> out = branches(skel, m.x, m.y);
        double dx = 0, dy = 0;
        for (int k : out) {
            const Walk end = walk(skel, m.x, m.y, k, reach);
            const int other = candidate_at(end.x, end.y);
            if (end.at_minutia && other >= 0 && other != static_cast<int>(i) &&
                end.steps < reach_of[m.kind][found[other].kind]) {
                drop[i] = 1;
                drop[other] = 1;
            }
            // The direction over a fixed length, whatever the walk met.
            const Walk dir = walk(skel, m.x, m.y, k, static_cast<int>(std::lround(period)));
            dx += m.x - dir.x;
            dy += m.y - dir.y;
        }
        // Ending: away from its ridge; bifurcation: away from the sum of its three branches.
        m.angle = std::atan2(dy, dx);
        if (m.angle < 0) m.angle += 2 * kPi;
    }
    for (std::size_t i = 0; i < found.size(); ++i)
        if (drop[i]) found[i].keep = false;
    // Broken ridges: two endings close together, facing each other.
    for (std::size_t i = 0; i < found.size(); ++i) {
        for (std::size_t j = i + 1; j < found.size(); ++j) {
            Candidate& a = found[i];
            Candidate& b = found[j];
            if (a.kind != 1 || b.kind != 1) continue;
            const double d = std::hypot(a.x - b.x, a.y - b.y);
            if (d > params.gap * period) continue;
            double turn = std::abs(a.angle - b.angle);
            turn = std::min(turn, 2 * kPi - turn);
            if (turn > kPi * 0.6) {
                a.keep = false;
                b.keep = false;
            }
        }
    }
    // Endings that face the edge of the usable area: the ridge runs out of the print there.
    const int look = static_cast<int>(std::lround(params.look * period));
    for (auto& m : found) {
        if (!m.keep || m.kind != 1) continue;
        const double ux = std::cos(m.angle), uy = std::sin(m.angle);
        for (int t = 2; t <= look; t += 2) {
            const int x = static_cast<int>(std::lround(m.x + t * ux));
            const int y = static_cast<int>(std::lround(m.y + t * uy));
            if (x < 0 || y < 0 || x >= w || y >= h ||
                !usable[static_cast<std::size_t>(y / kCell) * field.cols + x / kCell]) {
                m.keep = false;
                break;
            }
        }
    }
    for (const auto& m : found) {
        if (!m.keep) continue;
        const std::size_t c = static_cast<std::size_t>(m.y / kCell) * field.cols + m.x / kCell;
        result.x.push_back(m.x);
        result.y.push_back(m.y);
        result.angle.push_back(m.angle);
        result.kind.push_back(static_cast<std::uint8_t>(m.kind));
        result.quality.push_back(std::round(100 * std::clamp(field.coherence[c], 0.0, 1.0)));
    }
    return result;
}

}  // namespace bqat::minutiae
