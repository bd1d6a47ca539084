// expect: selfsup::Recipe: the negative strategy provides a bank of negatives (a queue), which this loss does not use
#include <selfsup/selfsup.hpp>

using Bad = selfsup::recipes::SimCLR::with_negatives<selfsup::negatives::Queue>;
int main() {
  Bad recipe;
  (void)recipe;
}
