#pragma once
/// \file
/// All view generators and the batched image functions.

#include <selfsup/views/crop_flip.hpp>
#include <selfsup/views/functional.hpp>
#include <selfsup/views/random_resized_crop.hpp>
