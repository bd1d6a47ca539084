// expect: selfsup::Recipe: the pair source (2nd argument) has no member `selfsup::PairBatch sample(const torch::Tensor& anchors)`
#include <selfsup/selfsup.hpp>

struct MyPairs {  // names its member `draw` instead of `sample`
  static constexpr bool provides_groups = false;
  selfsup::PairBatch draw(const torch::Tensor& anchors) const { return {anchors, anchors, {}, {}}; }
};
using Bad = selfsup::recipes::SimCLR::with_pairs<MyPairs>;
int main() {
  Bad recipe;
  (void)recipe;
}
