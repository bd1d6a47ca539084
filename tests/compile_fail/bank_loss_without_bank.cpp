// expect: selfsup::Recipe: the loss contrasts against a bank of negatives (MoCo's queue), but the negative strategy provides none
#include <selfsup/selfsup.hpp>

using Bad = selfsup::recipes::SimCLR::with_loss<selfsup::losses::InfoNCE>;
int main() {
  Bad recipe;
  (void)recipe;
}
