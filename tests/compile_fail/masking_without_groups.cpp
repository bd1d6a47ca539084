// expect: selfsup::Recipe: the negative strategy masks false negatives by semantic group, but the pair source provides no group ids
#include <selfsup/selfsup.hpp>

struct MaskedInBatch {  // needs group ids that pairs::Augmented does not provide
  static constexpr bool provides_negatives = true;
  static constexpr bool needs_groups = true;
  selfsup::NegativeSet negatives(const selfsup::LossInput&, const selfsup::PairBatch& p) const {
    return {.in_batch = true, .bank = {}, .groups = p.groups};
  }
};
using Bad = selfsup::recipes::SimCLR::with_negatives<MaskedInBatch>;
int main() {
  Bad recipe;
  (void)recipe;
}
