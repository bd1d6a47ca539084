#pragma once
/// \file
/// The whole library: `#include <selfsup/selfsup.hpp>`.

#include <selfsup/concepts.hpp>
#include <selfsup/data/data.hpp>
#include <selfsup/eval/diagnostics.hpp>
#include <selfsup/eval/knn.hpp>
#include <selfsup/eval/linear_probe.hpp>
#include <selfsup/losses/losses.hpp>
#include <selfsup/methods/methods.hpp>
#include <selfsup/models/models.hpp>
#include <selfsup/negatives/negatives.hpp>
#include <selfsup/pairs/pairs.hpp>
#include <selfsup/random.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/recipes.hpp>
#include <selfsup/train/ablation.hpp>
#include <selfsup/train/hooks.hpp>
#include <selfsup/train/runtime.hpp>
#include <selfsup/train/schedule.hpp>
#include <selfsup/train/trainer.hpp>
#include <selfsup/types.hpp>
#include <selfsup/views/views.hpp>

