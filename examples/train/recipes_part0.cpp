// examples/train: part 0 of 4 of the compiled recipes: method i of selfsup::methods::all for
// i % 4 == 0, each with every pair source it accepts.
#include "train.hpp"

namespace train {

void add_part0(Registry& r) { add_part<0, 4>(r); }

}  // namespace train
