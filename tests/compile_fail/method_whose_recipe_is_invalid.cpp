// expect: selfsup::Recipe: the negative strategy masks false negatives by semantic group, but the pair source provides no group ids
// expect-also: selfsup::methods: this method does not train with this pair source
#include <selfsup/selfsup.hpp>

// False-negative elimination masks by semantic group, and augmented pairs have none.
using Bad = selfsup::methods::FNC<selfsup::pairs::Augmented>;
int main() {
  auto recipe = Bad::recipe({}, {});
  (void)recipe;
}
