// expect: static assertion failed: selfsup: a member of a policy, encoder or hook has another signature than the one selfsup calls
// expect-also: wrong_signature<MyPairs, selfsup::member::bind, void(const selfsup::DatasetInfo&), void (MyPairs::*)(long int)>
#include <selfsup/selfsup.hpp>

struct MyPairs {  // takes the dataset's size instead of a DatasetInfo: would never be bound
  static constexpr bool provides_groups = false;
  selfsup::PairBatch sample(const torch::Tensor& anchors) const { return {anchors, anchors, {}, {}}; }
  void bind(int64_t) {}
};
using Bad = selfsup::recipes::SimCLR::with_pairs<MyPairs>;
int main() {
  Bad recipe;
  (void)recipe;
}
