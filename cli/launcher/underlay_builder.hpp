#pragma once
// Builds the launcher's underlay (see underlay_plan.hpp): the controller namespace with its
// bridge, one namespace per node with a veth pair whose node end is eth0 and whose other end
// is a port of the bridge, addresses on both, loopback up everywhere. The veth pairs are
// created directly inside their namespaces, so nothing appears in the root namespace.
// On failure, what was made is left for Teardown (it finds every nm-* namespace).

#include <cstdint>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

class UnderlayBuilder {
 public:
  // Creates nm-ctl and nm-n<id> for every id. Fails if any of them already exists.
  static Result<void> build(const std::vector<std::uint32_t>& node_ids);
  // Every namespace build() creates for these ids, controller namespace first.
  static std::vector<std::string> namespaces(const std::vector<std::uint32_t>& node_ids);
};

}  // namespace nextmini::launcher
