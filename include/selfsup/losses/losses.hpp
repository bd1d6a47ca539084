#pragma once
/// \file
/// All losses: the functional layer and the recipe policies.

#include <selfsup/losses/contrastive.hpp>
#include <selfsup/losses/distillation.hpp>
#include <selfsup/losses/functional.hpp>
#include <selfsup/losses/non_contrastive.hpp>
