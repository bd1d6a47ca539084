#pragma once
/// \file
/// Recipe types, one line each, for five methods whose whole step is the four roles (no
/// predictor, no momentum target, no prototypes): SimCLR, InfoNCE on a queue, DCL, VICReg, Barlow
/// Twins; rebind a role with `recipes::SimCLR::with_pairs<MyPairs>`. Every method as a whole
/// (recipe with the paper's option values, encoder heads, optimiser, defaults, citation), those
/// with heads too (BYOL, SimSiam, MoCo, NNCLR, DINO, SwAV, ...), is a type of selfsup::methods
/// (<selfsup/methods/methods.hpp>).

#include <selfsup/losses/contrastive.hpp>
#include <selfsup/losses/non_contrastive.hpp>
#include <selfsup/negatives/in_batch.hpp>
#include <selfsup/negatives/none.hpp>
#include <selfsup/negatives/queue.hpp>
#include <selfsup/pairs/augmented.hpp>
#include <selfsup/recipe.hpp>
#include <selfsup/views/presets.hpp>

namespace selfsup::recipes {

/// SimCLR (Chen et al., ICML 2020): SimCLR's views, augmented pairs, in-batch negatives, NT-Xent.
using SimCLR = Recipe<views::SimCLRViews, pairs::Augmented, negatives::InBatch, losses::NTXent>;

/// InfoNCE against MoCo's queue of negatives (He et al., CVPR 2020), the keys being the online
/// projections of the partner views (MoCo proper also needs a momentum target encoder).
using InfoNCEQueue = Recipe<views::SimCLRViews, pairs::Augmented, negatives::Queue, losses::InfoNCE>;

/// Decoupled contrastive learning (Yeh et al., ECCV 2022).
using DCL = Recipe<views::SimCLRViews, pairs::Augmented, negatives::InBatch, losses::DCL>;

/// VICReg (Bardes et al., ICLR 2022): BYOL's asymmetric views, augmented pairs, no negatives.
using VICReg = Recipe<views::BYOLViews, pairs::Augmented, negatives::None, losses::VICReg>;

/// Barlow Twins (Zbontar et al., ICML 2021): BYOL's asymmetric views, augmented pairs, no
/// negatives.
using BarlowTwins = Recipe<views::BYOLViews, pairs::Augmented, negatives::None, losses::BarlowTwins>;

}  // namespace selfsup::recipes
