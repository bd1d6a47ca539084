#pragma once
/// \file
/// Datasets, the semantic pair table and samplers. The image-folder reader is not included: it
/// needs libjpeg-turbo and libpng (include <selfsup/data/image_folder.hpp> and link selfsup::io).

#include <selfsup/data/cifar.hpp>
#include <selfsup/data/embed.hpp>
#include <selfsup/data/in_memory.hpp>
#include <selfsup/data/pair_table.hpp>
#include <selfsup/data/sampler.hpp>
#include <selfsup/data/stl10.hpp>
#include <selfsup/data/subset.hpp>
#include <selfsup/data/synthetic.hpp>
