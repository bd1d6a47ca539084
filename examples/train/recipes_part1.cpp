// examples/train: part 1 of 4 of the compiled recipes: method i of selfsup::methods::all for
// i % 4 == 1, each with every pair source it accepts.
#include "train.hpp"

namespace train {

void add_part1(Registry& r) { add_part<1, 4>(r); }

}  // namespace train
