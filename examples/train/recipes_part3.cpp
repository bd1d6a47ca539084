// examples/train: part 3 of 4 of the compiled recipes: method i of selfsup::methods::all for
// i % 4 == 3, each with every pair source it accepts.
#include "train.hpp"

namespace train {

void add_part3(Registry& r) { add_part<3, 4>(r); }

}  // namespace train
