#pragma once
// Reads the link emulation tables of a config's TOML root (link_config.hpp); private to the
// controller library because it needs toml++.

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nextmini/controller/config.hpp"

namespace nextmini::controller {

// Reads [link_defaults], [[links]] and [[link_rates]] of `root` into config.link_defaults and
// config.link_entries; each problem is appended to `errors`. Node ids are checked against
// 1..n_nodes when n_nodes is not 0.
// A TOML value as written, for error messages: "\"20xs\"", "3", "a table".
std::string describe_toml_value(const toml::node& node);

void read_link_config(const toml::table& root, std::uint32_t n_nodes, Config& config,
                      std::vector<std::string>& errors);

}  // namespace nextmini::controller
