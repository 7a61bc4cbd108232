#pragma once
// The controller's bring-up progress as a small JSON document, rewritten atomically (temporary
// file + rename) on every bring-up event so a launcher can poll it without seeing a partial file:
//   {"n_nodes":4,"connected":4,"ready":4,"topology_ready":true,"routes":12,"edges":4,
//    "port":3000,"pid":1234,"errors":["no path from 3 to 7"],"connected_nodes":[1,2,3,4],
//    "ready_nodes":[1,2,3,4],"http":"127.0.0.1:3080"}

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
};

std::string status_json(const ControllerStatus& status);

// Writes `path`.tmp, then renames it over `path`. Error code "status.io".
Result<void> write_status_file(const std::string& path, const ControllerStatus& status);

}  // namespace nextmini::controller
