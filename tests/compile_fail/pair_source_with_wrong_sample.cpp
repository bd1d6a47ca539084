// expect: static assertion failed: selfsup: a member of a policy, encoder or hook has another signature than the one selfsup calls
// expect-also: wrong_signature<MyPairs, selfsup::member::sample, selfsup::PairBatch(const at::Tensor&), void (MyPairs::*)(const at::Tensor&)>
#include <selfsup/selfsup.hpp>

struct MyPairs {  // `sample` exists, but returns nothing
  static constexpr bool provides_groups = false;
  void sample(const torch::Tensor&) {}
};
using Bad = selfsup::recipes::SimCLR::with_pairs<MyPairs>;
int main() {
  Bad recipe;
  (void)recipe;
}
