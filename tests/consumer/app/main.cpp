#include <selfsup/losses/functional.hpp>

#include <fmt/core.h>
#include <range/v3/view/iota.hpp>

#include <cmath>

int main() {
  auto z0 = torch::randn({8, 4}), z1 = torch::randn({8, 4});
  const double loss = selfsup::functional::nt_xent(z0, z1).item<double>();
  int count = 0;
  for (int i : ranges::views::iota(0, 3)) count += i;
  fmt::print("consumer: nt_xent = {:.4f}, {}\n", loss, count);
  return std::isfinite(loss) && count == 3 ? 0 : 1;
}
