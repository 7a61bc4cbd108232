#pragma once
// Internal: the encoder's solve plans, one per K' (the rows are always ISIs 0..K'-1, so the
// plan depends on K' alone). Built on first use, shared read-only afterwards; thread-safe.

#include <memory>

#include "block_parameters.hpp"
#include "solve_plan.hpp"

namespace nextmini::raptorq::detail {

std::shared_ptr<const SolvePlan> encoder_plan(const BlockParameters& params);

}  // namespace nextmini::raptorq::detail
