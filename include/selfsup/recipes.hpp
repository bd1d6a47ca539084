#pragma once
/// \file
/// Ready-made recipes for the common methods. Each is one line; rebind a role with
/// `recipes::SimCLR::with_pairs<MyPairs>`.

#include <selfsup/losses/barlow_twins.hpp>
#include <selfsup/losses/nt_xent.hpp>
#include <selfsup/negatives/in_batch.hpp>
#include <selfsup/negatives/none.hpp>
#include <selfsup/pairs/augmented.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/views/crop_flip.hpp>

namespace selfsup::recipes {

/// SimCLR (Chen et al., ICML 2020): augmented pairs, in-batch negatives, NT-Xent.
using SimCLR = Recipe<views::CropFlip, pairs::Augmented, negatives::InBatch, losses::NTXent>;

/// Barlow Twins (Zbontar et al., ICML 2021): augmented pairs, no negatives.
using BarlowTwins = Recipe<views::CropFlip, pairs::Augmented, negatives::None, losses::BarlowTwins>;

}  // namespace selfsup::recipes
