#pragma once
/// \file
/// All positive-pair sources.

#include <selfsup/pairs/augmented.hpp>
