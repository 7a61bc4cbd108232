#include "underlay_plan.hpp"

#include <fmt/format.h>

#include <charconv>

namespace nextmini::launcher {

std::string UnderlayPlan::node_namespace(std::uint32_t node_id) {
  return fmt::format("{}n{}", kNamespacePrefix, node_id);
}

std::string UnderlayPlan::bridge_port(std::uint32_t node_id) {
  return fmt::format("nmv{}", node_id);
}

std::string UnderlayPlan::node_underlay_address(std::uint32_t node_id) {
  return fmt::format("100.127.{}.{}", node_id / 256, node_id % 256);
}

std::optional<std::uint32_t> UnderlayPlan::node_from_namespace(std::string_view name) {
  std::string prefix = fmt::format("{}n", kNamespacePrefix);
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view digits = name.substr(prefix.size());
  if (digits.empty() || digits.front() == '0') return std::nullopt;
  std::uint32_t id = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (error != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  if (id == 0 || id > kMaxNodes) return std::nullopt;
  return id;
}

bool UnderlayPlan::is_launcher_namespace(std::string_view name) {
  return name.substr(0, kNamespacePrefix.size()) == kNamespacePrefix;
}

bool UnderlayPlan::is_launcher_interface(std::string_view name) {
  return name.substr(0, 4) == "nmbr" || name.substr(0, 3) == "nmv";
}

}  // namespace nextmini::launcher
