#pragma once
// Reads the status file the controller rewrites atomically on every bring-up event
// (`nextmini controller --status-file PATH`): a JSON object with at least
//   n_nodes, connected, ready, topology_ready, routes, edges, pid, errors.
// `connected` and `ready` may be counts or lists of node ids; `routes` and `edges` counts or
// lists; optional "connected_nodes"/"ready_nodes" lists of ids name the nodes in a timeout
// message; optional "flows" lists controller flows. Unknown keys are kept in `text` (the raw file)
// for `nextmini status`.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

// One entry of the status file's "flows" (controller flows, docs/config.md "Flows").
struct FlowStatus {
  std::uint64_t id = 0;
  std::uint32_t src = 0;
  std::uint32_t dst = 0;
  std::string state;  // pending, running, finished, failed
  std::uint64_t bytes = 0;
  std::optional<double> completion_ms;
  std::string error;
};

struct ControllerStatus {
  std::uint32_t n_nodes = 0;
  std::uint32_t connected = 0;
  std::uint32_t ready = 0;
  std::optional<std::vector<std::uint32_t>> connected_ids;  // when the file lists them
  std::optional<std::vector<std::uint32_t>> ready_ids;
  bool topology_ready = false;
  std::uint32_t routes = 0;
  std::uint32_t edges = 0;
  pid_t pid = 0;
  std::vector<std::string> errors;
  std::string http;  // the HTTP API's ADDRESS:PORT (in the controller's namespace); empty: off
  std::vector<FlowStatus> flows;
  std::string text;

  // "nodes: 3/4 connected, 2/4 ready"
  std::string progress_line() const;
};

Result<ControllerStatus> parse_controller_status(const std::string& text);
// nullopt while the file does not exist yet.
Result<std::optional<ControllerStatus>> read_controller_status(const std::string& path);

}  // namespace nextmini::launcher
