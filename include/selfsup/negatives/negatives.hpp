#pragma once
/// \file
/// All negative strategies.

#include <selfsup/negatives/in_batch.hpp>
#include <selfsup/negatives/none.hpp>
#include <selfsup/negatives/queue.hpp>
