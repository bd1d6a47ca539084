// expect: selfsup::Recipe: the negative strategy masks false negatives by semantic group (negatives::InBatchMasked), but the loss ignores the mask
#include <selfsup/selfsup.hpp>

// DCL has no false-negative masking: it would silently contrast same-group samples.
using Bad = selfsup::Recipe<selfsup::views::CropFlip, selfsup::pairs::SameLabel, selfsup::negatives::InBatchMasked,
                            selfsup::losses::DCL>;
int main() {
  Bad recipe;
  (void)recipe;
}
