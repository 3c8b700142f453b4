// NFIQ 2's random forest evaluated from its arrays: the score is the number of trees voting 1.
#include "bqat/nfiq2.hpp"

namespace bqat::nfiq2 {

int forest_votes(const ForestView& forest, const float* x) {
    int votes = 0;
    for (int t = 0; t < forest.trees; ++t) {
        const std::size_t first = static_cast<std::size_t>(forest.tree_off[t]);
        const std::size_t size = static_cast<std::size_t>(forest.tree_n[t]);
        std::size_t node = 0;
        // A malformed tree (a child outside it, a cycle) stops after `size` steps, counted as 0.
        for (std::size_t steps = 0; steps <= size; ++steps) {
            const std::size_t i = first + node;
            const int var = forest.var[i];
            if (var < 0) {
                votes += forest.value[i] == 1.0f;
                break;
            }
            // NaN features (NIST divides 0 by 0 when there are no minutiae) compare false: right.
            const std::int32_t child = x[var] <= forest.thr[i] ? forest.left[i] : forest.right[i];
            if (child < 0 || static_cast<std::size_t>(child) >= size) break;
            node = static_cast<std::size_t>(child);
        }
    }
    return votes;
}

}  // namespace bqat::nfiq2
