// expect: selfsup::Recipe: the view generator makes multi-crop views (views::MultiCrop), but the loss reads two views only
#include <selfsup/selfsup.hpp>

// Multi-crop with SimSiam, which reads z0 and z1 only: the local crops would be made and ignored.
using Wasteful = selfsup::Recipe<selfsup::views::MultiCrop, selfsup::pairs::Augmented, selfsup::negatives::None,
                                 selfsup::losses::SimSiam>;
int main() {
  Wasteful recipe{};
  (void)recipe;
}
