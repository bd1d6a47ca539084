// expect: selfsup::Recipe: the loss is contrastive and needs negatives
#include <selfsup/selfsup.hpp>

using Bad = selfsup::Recipe<selfsup::views::CropFlip, selfsup::pairs::Augmented,
                            selfsup::negatives::None, selfsup::losses::NTXent>;
int main() {
  Bad recipe;
  (void)recipe;
}
