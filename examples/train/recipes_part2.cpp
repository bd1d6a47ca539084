// examples/train: part 2 of 4 of the compiled recipes: method i of selfsup::methods::all for
// i % 4 == 2, each with every pair source it accepts.
#include "train.hpp"

namespace train {

void add_part2(Registry& r) { add_part<2, 4>(r); }

}  // namespace train
