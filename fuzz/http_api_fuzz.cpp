// Fuzz target: the controller's HTTP API handler. The first byte picks the request (a PATCH of
// a link, a POST of flows, or a GET of an arbitrary target), the rest is the body or target.
// Every answer must be JSON with a status the API documents; a refused PATCH changes nothing.

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/http_api.hpp"
#include "nextmini/controller/memory_store.hpp"

namespace nc = nextmini::controller;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::string kToml = "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 4 }\n";
  auto config = nc::parse_config(kToml, "fuzz.toml");
  auto topology = nc::build_topology(*config);
  auto routes = nc::build_routes(*config, *topology);
  nc::MemoryStore store;
  nc::BringUp bring_up(*config, *topology, *routes, store);
  nc::HttpApi api(bring_up, store, nullptr, "/nonexistent");
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  nc::HttpRequest request;
  switch (data[0] % 3) {
    case 0:
      request = {"PATCH", "/api/links/1/2", rest};
      break;
    case 1:
      request = {"POST", "/api/flows", rest};
      break;
    default:
      request = {"GET", rest, ""};
  }
  const auto before = bring_up.link_params();
  const auto response = api.handle(request);
  boost::system::error_code error;
  boost::json::parse(response.body, error);
  if (error) __builtin_trap();
  if (response.status != 200 && response.status != 201 && response.status != 400 &&
      response.status != 404 && response.status != 405) {
    __builtin_trap();
  }
  if (response.status >= 400 && bring_up.link_params() != before) __builtin_trap();
  return 0;
}
