// expect: selfsup::methods::NNCLR: the positives are the nearest neighbours in a support set of embeddings
#include <selfsup/selfsup.hpp>

// NNCLR's positives come from its support set; augmented pairs would make it SimCLR at τ = 0.1.
using Bad = selfsup::methods::NNCLR<selfsup::pairs::Augmented>;
int main() {
  auto recipe = Bad::recipe({}, {});
  (void)recipe;
}
