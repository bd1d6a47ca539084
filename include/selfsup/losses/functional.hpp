#pragma once
/// \file
/// selfsup::functional: the losses as plain differentiable functions of tensors, like
/// torch::nn::functional. Inputs are raw embeddings, rows = samples, of any floating dtype, on
/// any device; each function returns a 0-dim tensor and checks shapes, dtypes, devices, option
/// ranges and finiteness with an error that names it.
///
/// One header per family of losses, all included here: functional/contrastive.hpp (NT-Xent,
/// InfoNCE, DCL), functional/debiased.hpp (debiased and hard-negative), functional/supcon.hpp and
/// functional/non_contrastive.hpp (negative cosine, Barlow Twins, VICReg) and
/// functional/distillation.hpp (DINO, Sinkhorn-Knopp, SwAV).

#include <selfsup/losses/functional/contrastive.hpp>
#include <selfsup/losses/functional/debiased.hpp>
#include <selfsup/losses/functional/distillation.hpp>
#include <selfsup/losses/functional/non_contrastive.hpp>
#include <selfsup/losses/functional/supcon.hpp>
