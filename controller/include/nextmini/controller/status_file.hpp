#pragma once
// The controller's bring-up progress as a small JSON document, rewritten atomically (temporary
// file + rename) on every bring-up event so a launcher can poll it without seeing a partial file:
//   {"n_nodes":4,"connected":4,"ready":4,"topology_ready":true,"routes":12,"edges":4,
//    "port":3000,"pid":1234,"errors":["no path from 3 to 7"],"connected_nodes":[1,2,3,4],
//    "ready_nodes":[1,2,3,4],"http":"127.0.0.1:3080",
//    "flows":[{"id":1,"src":1,"dst":3,"state":"finished","bytes":10000000,
//              "start_ns":1700000000000000000,"finish_ns":1700000000900000000,
//              "completion_ms":900.000,"error":""}]}
// A flow's state is pending, running, finished or failed (store.hpp, flow_state); start_ns and
// finish_ns are null until known; completion_ms (finish - start) only for a finished flow.
// Times are nanoseconds since the Unix epoch, as the nodes report them.

#include <cstdint>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/controller/bring_up.hpp"

namespace nextmini::controller {

struct ControllerStatus {
  BringUpStatus bring_up;
  std::uint16_t port = 0;
  long pid = 0;
  std::vector<std::string> errors;
  std::string http;  // where the HTTP API listens ("127.0.0.1:3080"), empty when it is off
  std::vector<FlowRecord> flows;
};

std::string status_json(const ControllerStatus& status);

// Writes `path`.tmp, then renames it over `path`. Error code "status.io".
Result<void> write_status_file(const std::string& path, const ControllerStatus& status);

}  // namespace nextmini::controller
