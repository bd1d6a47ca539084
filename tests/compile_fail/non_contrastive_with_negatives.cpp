// expect: selfsup::Recipe: the loss is non-contrastive (BYOL, SimSiam, Barlow Twins, VICReg) and takes no negatives
#include <selfsup/selfsup.hpp>

using Bad = selfsup::recipes::BarlowTwins::with_negatives<selfsup::negatives::InBatch>;
int main() {
  Bad recipe;
  (void)recipe;
}
