#pragma once
/// \file
/// All losses: the functional layer and the recipe policies.

#include <selfsup/losses/barlow_twins.hpp>
#include <selfsup/losses/functional.hpp>
#include <selfsup/losses/nt_xent.hpp>
