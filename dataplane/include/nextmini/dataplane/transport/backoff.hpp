#pragma once
// Backoff now lives in common/ (the controller's PostgreSQL listener uses it too); the dataplane
// keeps its names.

#include "nextmini/common/backoff.hpp"

namespace nextmini::dataplane {
using nextmini::Backoff;
using nextmini::BackoffConfig;
}  // namespace nextmini::dataplane
