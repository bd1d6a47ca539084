// expect: selfsup::Recipe: the loss (4th argument) has no member `static constexpr bool contrastive`
#include <selfsup/selfsup.hpp>

struct MyLoss {  // forgot `static constexpr bool contrastive`
  torch::Tensor operator()(const selfsup::LossInput& in) const {
    return selfsup::functional::nt_xent(in.z0, in.z1);
  }
};
using Bad = selfsup::recipes::SimCLR::with_loss<MyLoss>;
int main() {
  Bad recipe;
  (void)recipe;
}
