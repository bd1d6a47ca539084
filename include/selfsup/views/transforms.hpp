#pragma once
/// \file
/// Random image transforms with torchvision's sampling, batched: every sample of the batch
/// draws its own parameters in one call on the images' device, with nothing read back to the
/// host. Each transform owns a seeded generator (`operator()`), or draws from one it is given
/// (`apply(images, gen)`), which is how the presets compose several transforms on one stream.
///
/// `operator()` takes uint8 or floating (B, C, H, W) images and returns float views in [0, 1];
/// `apply` takes floating images in [0, 1] and checks nothing.
///
/// One header per transform, all included here: color_jitter.hpp, random_grayscale.hpp,
/// gaussian_blur.hpp, random_solarize.hpp, random_horizontal_flip.hpp and normalize.hpp
/// (RandomResizedCrop's box sampling is in random_resized_crop.hpp).

#include <selfsup/views/color_jitter.hpp>
#include <selfsup/views/gaussian_blur.hpp>
#include <selfsup/views/normalize.hpp>
#include <selfsup/views/random_grayscale.hpp>
#include <selfsup/views/random_horizontal_flip.hpp>
#include <selfsup/views/random_solarize.hpp>
