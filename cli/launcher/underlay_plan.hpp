#pragma once
// The launcher's naming and addressing plan for one machine. Every name and address it makes
// lives in namespaces it creates itself; the root namespace is never given an address.
//   nm-ctl      the controller's namespace; holds the underlay bridge nmbr0 (100.127.255.254/16)
//   nm-n<N>     node N's namespace; its underlay interface eth0 has 100.127.(N/256).(N%256)/16
//   nmv<N>      the bridge-side end (in nm-ctl) of node N's veth pair
// Node ids run from 1 to kMaxNodes (the underlay /16 minus the controller's address).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nextmini::launcher {

inline constexpr std::string_view kNamespacePrefix = "nm-";
inline constexpr std::string_view kControllerNamespace = "nm-ctl";
inline constexpr std::string_view kBridgeName = "nmbr0";
inline constexpr std::string_view kNodeUnderlayInterface = "eth0";
inline constexpr std::string_view kControllerUnderlayAddress = "100.127.255.254";
inline constexpr int kUnderlayPrefixLength = 16;
inline constexpr std::uint32_t kMaxNodes = 65000;

class UnderlayPlan {
 public:
  // "nm-n3"
  static std::string node_namespace(std::uint32_t node_id);
  // "nmv3": the veth end enslaved to the bridge in nm-ctl
  static std::string bridge_port(std::uint32_t node_id);
  // "100.127.0.3"
  static std::string node_underlay_address(std::uint32_t node_id);
  // "nm-n3" -> 3; nullopt for any other name (including "nm-ctl")
  static std::optional<std::uint32_t> node_from_namespace(std::string_view name);
  // True for names this launcher creates: namespaces "nm-*", interfaces "nmbr*" and "nmv*".
  static bool is_launcher_namespace(std::string_view name);
  static bool is_launcher_interface(std::string_view name);
};

}  // namespace nextmini::launcher
