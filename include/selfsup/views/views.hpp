#pragma once
/// \file
/// All view generators and the batched image functions.

#include <selfsup/views/augmentation.hpp>
#include <selfsup/views/crop_flip.hpp>
#include <selfsup/views/functional.hpp>
#include <selfsup/views/presets.hpp>
#include <selfsup/views/random_resized_crop.hpp>
#include <selfsup/views/transforms.hpp>
