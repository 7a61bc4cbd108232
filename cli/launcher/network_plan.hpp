#pragma once
// What `nextmini up` is asked to bring up, independent of how the config file is parsed:
// the node ids with their overlay addresses, the links (for the summary), the controller's
// port and token. up_command.cpp fills it from the controller's config library.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nextmini::launcher {

struct NetworkPlan {
  std::string config_path;  // absolute
  std::uint16_t port = 3000;
  std::string token;  // passed to the controller's nodes when the config sets one
  std::vector<std::uint32_t> node_ids;
  std::vector<std::string> overlay_addresses;   // parallel to node_ids
  std::vector<std::string> overlay_addresses6;  // parallel to node_ids ("" = no IPv6); may be empty
  std::vector<unsigned> workers;                // parallel to node_ids: `nextmini node --workers`
  // Nodes in python operating mode: they get a namespace and an underlay address, but no
  // process; the user runs the Python node inside (`nextmini exec N -- python3 …`).
  std::vector<std::uint32_t> external_nodes;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> links;
  std::string db_url;     // `nextmini controller --db` (empty: none given)
  bool reset_db = false;  // `nextmini controller --reset-db`
};

}  // namespace nextmini::launcher
