#pragma once
/// \file
/// All models: backbones, heads and encoders.

#include <selfsup/models/any_backbone.hpp>
#include <selfsup/models/encoder.hpp>
#include <selfsup/models/projector.hpp>
#include <selfsup/models/resnet.hpp>
#include <selfsup/models/small_cnn.hpp>
#include <selfsup/models/vision_transformer.hpp>
