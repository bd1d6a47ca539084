// expect: static assertion failed: selfsup: a member of a policy, encoder or hook has another signature than the one selfsup calls
// expect-also: wrong_signature<Remember, selfsup::member::after_step, void(const selfsup::LossInput&), void (Remember::*)(selfsup::LossInput&)>
#include <selfsup/selfsup.hpp>

struct Remember : selfsup::negatives::InBatch {  // after_step must take the input as const
  void after_step(selfsup::LossInput&) {}
};
using Bad = selfsup::recipes::SimCLR::with_negatives<Remember>;
int main() {
  Bad recipe;
  (void)recipe;
}
