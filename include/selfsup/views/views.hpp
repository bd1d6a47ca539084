#pragma once
/// \file
/// All view generators, the random transforms and the batched image functions.

#include <selfsup/views/augmentation.hpp>
#include <selfsup/views/color_jitter.hpp>
#include <selfsup/views/crop_flip.hpp>
#include <selfsup/views/functional.hpp>
#include <selfsup/views/gaussian_blur.hpp>
#include <selfsup/views/normalize.hpp>
#include <selfsup/views/presets.hpp>
#include <selfsup/views/random_grayscale.hpp>
#include <selfsup/views/random_horizontal_flip.hpp>
#include <selfsup/views/random_resized_crop.hpp>
#include <selfsup/views/random_solarize.hpp>
#include <selfsup/views/transforms.hpp>
