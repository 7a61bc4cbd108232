#pragma once
// Reads the [[flows]] tables of a config's TOML root (flow_config.hpp); private to the controller
// library because it needs toml++.

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nextmini/controller/config.hpp"

namespace nextmini::controller {

// Reads [[flows]] of `root` into config.flows (ids given where `id` is absent: the lowest free
// ones, in file order); each problem is appended to `errors` with its key path and value. Node
// ids are checked against 1..n_nodes when n_nodes is not 0; route pins are checked later
// against the route plan (check_flow_routes).
void read_flow_config(const toml::table& root, std::uint32_t n_nodes, Config& config,
                      std::vector<std::string>& errors);

}  // namespace nextmini::controller
