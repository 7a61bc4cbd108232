#pragma once
// Controller flows (docs/config.md, "Flows"): the checks a flow must pass, shared by the config
// loader ([[flows]]) and run-time additions (BringUp::add_flows, the HTTP API).
// Inputs: a messages::FlowSpec, the node count and the route plan. Output: every problem found,
// each tagged with the field it concerns so each caller names it in its own spelling (a TOML key
// path for the config, a FlowSpec field for run-time additions).
// Rules: src and dst are nodes 1..n and differ; exactly one of length_bytes (>= 1) and
// duration_s (> 0, at most kMaxFlowDurationS) is set; rate_bytes_per_s, when set, is >= 1;
// weight, when set, is 1..kMaxFlowWeight; transport is "tcp"; route_id, when set, names a route
// of the plan that goes from src to dst. Thread: none (pure functions).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nextmini/controller/config.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

inline constexpr double kMaxFlowDurationS = 1e6;
inline constexpr std::uint32_t kMaxFlowWeight = 255;  // the overlay header carries one byte

enum class FlowField { kId, kSrc, kDst, kLength, kDuration, kRate, kWeight, kTransport, kRoute };

struct FlowProblem {
  FlowField field = FlowField::kId;
  std::string message;  // without the field's name: "node 9 is not in the topology (1..4)"
};

// The FlowSpec member a field is stored in ("src", "length_bytes", ...).
std::string_view flow_spec_field_name(FlowField field);

// Every problem of `spec`. `routes` may be null: route_id is then checked by check_flow_routes.
std::vector<FlowProblem> check_flow(const messages::FlowSpec& spec, std::uint32_t n_nodes,
                                    const RoutePlan* routes);

// The route_id pins of config.flows against the route plan, as config errors
// ("flows[1].route_id: route 7 goes from 2 to 4, not from 1 to 3").
std::vector<std::string> check_flow_routes(const Config& config, const RoutePlan& routes);

}  // namespace nextmini::controller
