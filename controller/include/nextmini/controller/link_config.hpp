#pragma once
// Link emulation settings of the controller config: [link_defaults], [[links]] and Nextmini's
// [[link_rates]] (docs/config.md, "Link emulation"), resolved to one messages::LinkParams per
// directed topology link.
// Inputs: the tables parse_config() read (src/link_config_reader.hpp) and the topology. Output:
// Config::link_params, keyed by (src, dst); only directed links with at least one knob set
// appear. Merge order: link_defaults, then link_rates, then links, each in file order; a later
// table overrides a key an earlier one set. Errors name the key path and value, e.g.
// "links[3].delay: '20xs' is not a duration (...)", and are reported with the other config
// errors. Thread: none (pure functions).

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nextmini/controller/config.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

class Topology;

// Resolves config.link_defaults and config.link_entries on `topology` into a map keyed by
// directed link; appends an error for a link that is not a topology edge or a merged result
// that breaks a rule of messages::check_link_params (e.g. jitter larger than delay with
// reorder = false).
std::map<std::pair<NodeId, NodeId>, messages::LinkParams> resolve_link_params(
    const Config& config, const Topology& topology, std::vector<std::string>& errors);

}  // namespace nextmini::controller
