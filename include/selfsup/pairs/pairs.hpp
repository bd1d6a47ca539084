#pragma once
/// \file
/// All positive-pair sources: where each anchor's positive comes from.

#include <selfsup/pairs/augmented.hpp>
#include <selfsup/pairs/common.hpp>
#include <selfsup/pairs/mined.hpp>
#include <selfsup/pairs/mixed.hpp>
#include <selfsup/pairs/nearest_neighbour.hpp>
#include <selfsup/pairs/same_label.hpp>
#include <selfsup/pairs/semantic.hpp>
#include <selfsup/pairs/semantic_set.hpp>
