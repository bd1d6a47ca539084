#pragma once
/// \file
/// Internal: a readable name of a type, from the compiler's function signature, to tell one
/// recipe's checkpoint from another's.

#include <string>
#include <string_view>

namespace selfsup::detail {

template <class T>
std::string type_name() {
  std::string_view s = __PRETTY_FUNCTION__;  // "... type_name() [with T = X; ...]" (GCC, Clang)
  const auto start = s.find("T = ");
  if (start == std::string_view::npos) return std::string(s);
  s.remove_prefix(start + 4);
  const auto end = s.find_first_of(";]");
  return std::string(s.substr(0, end));
}

}  // namespace selfsup::detail
