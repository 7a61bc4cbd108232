#pragma once
// The HTTP client `nextmini ctl` uses to reach the controller's JSON API (docs/http-api.md).
// Finding it: an explicit --url (http://HOST:PORT), or else the network `nextmini up` runs:
// state.json names the controller's namespace (nm-ctl) and its status file the API's
// ADDRESS:PORT there (127.0.0.1:3080 by default); the call then enters that namespace (setns,
// root only) before it connects, so a loopback-only API needs no extra address or forwarding.
// Blocking calls with a 10 s timeout; one request per connection.

#include <cstdint>
#include <string>
#include <string_view>

#include "launcher_state.hpp"
#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

struct ApiEndpoint {
  std::string host;  // an IP address
  std::uint16_t port = 3080;
  std::string netns;             // enter this network namespace first; empty: stay
  std::string describe() const;  // "http://127.0.0.1:3080 in namespace nm-ctl"
};

struct ApiReply {
  unsigned status = 0;
  std::string body;
};

// "http://127.0.0.1:3080" (a trailing slash allowed). Error "ctl.url".
Result<ApiEndpoint> parse_api_url(std::string_view url);

// The API of the network `nextmini up` runs. Error "ctl.no_network" (nothing is up),
// "ctl.no_api" (the controller has not said where its API is, or it is off).
Result<ApiEndpoint> find_running_api(const RunDirectory& run_dir);

// One request. Error "ctl.connect" when the API cannot be reached or answers nothing.
Result<ApiReply> call_api(const ApiEndpoint& endpoint, std::string_view method,
                          std::string_view target, std::string_view body);

}  // namespace nextmini::launcher
