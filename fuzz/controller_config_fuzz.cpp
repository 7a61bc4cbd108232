// Fuzz target: the controller's TOML config parser, then topology and routes for configs it
// accepts (small ones, to keep each input fast). Any input must give a Config or an error.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nextmini/controller/config.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/topology.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = nextmini::controller::parse_config(text, "fuzz.toml");
  if (!config) {
    if (config.error().message.empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  if (config->n_nodes() > 64) return 0;
  auto topology = nextmini::controller::build_topology(*config);
  if (!topology) return 0;
  auto routes = nextmini::controller::build_routes(*config, *topology);
  if (!routes) return 0;
  for (std::uint32_t node = 1; node <= topology->n_nodes(); ++node) {
    for (const auto& entry : routes->entries(node)) {
      if (entry.deliver_local != (entry.dst == node)) __builtin_trap();
    }
  }
  return 0;
}
