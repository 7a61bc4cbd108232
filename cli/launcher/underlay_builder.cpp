#include "underlay_builder.hpp"

#include <fmt/format.h>

#include "netns.hpp"
#include "underlay_plan.hpp"

namespace nextmini::launcher {

std::vector<std::string> UnderlayBuilder::namespaces(const std::vector<std::uint32_t>& node_ids) {
  std::vector<std::string> names = {std::string(kControllerNamespace)};
  for (auto id : node_ids) names.push_back(UnderlayPlan::node_namespace(id));
  return names;
}

Result<void> UnderlayBuilder::build(const std::vector<std::uint32_t>& node_ids) {
  auto names = namespaces(node_ids);
  for (const auto& name : names) {
    if (Netns::exists(name)) {
      return fail("launcher.underlay",
                  fmt::format("network namespace {} already exists (left over from an earlier "
                              "run?); run `nextmini down` first",
                              name));
    }
  }
  // One `ip` process for all namespaces and veth pairs (created straight into their namespaces).
  std::vector<std::string> root_commands;
  for (const auto& name : names) root_commands.push_back(fmt::format("netns add {}", name));
  for (auto id : node_ids) {
    root_commands.push_back(fmt::format("link add {} netns {} type veth peer name {} netns {}",
                                        kNodeUnderlayInterface, UnderlayPlan::node_namespace(id),
                                        UnderlayPlan::bridge_port(id), kControllerNamespace));
  }
  if (auto made = Netns::batch("", root_commands); !made) return made;

  std::vector<std::string> controller_commands = {
      "link set lo up",
      fmt::format("link add {} type bridge", kBridgeName),
      fmt::format("addr add {}/{} dev {}", kControllerUnderlayAddress, kUnderlayPrefixLength,
                  kBridgeName),
      fmt::format("link set {} up", kBridgeName),
  };
  for (auto id : node_ids) {
    controller_commands.push_back(
        fmt::format("link set {} master {}", UnderlayPlan::bridge_port(id), kBridgeName));
    controller_commands.push_back(fmt::format("link set {} up", UnderlayPlan::bridge_port(id)));
  }
  if (auto made = Netns::batch(std::string(kControllerNamespace), controller_commands); !made) {
    return made;
  }

  for (auto id : node_ids) {
    std::vector<std::string> node_commands = {
        "link set lo up",
        fmt::format("addr add {}/{} dev {}", UnderlayPlan::node_underlay_address(id),
                    kUnderlayPrefixLength, kNodeUnderlayInterface),
        fmt::format("link set {} up", kNodeUnderlayInterface),
    };
    if (auto made = Netns::batch(UnderlayPlan::node_namespace(id), node_commands); !made) {
      return made;
    }
  }
  return ok();
}

}  // namespace nextmini::launcher
