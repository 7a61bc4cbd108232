#pragma once
// HttpApi: the controller's HTTP JSON API (docs/http-api.md) as a request -> response function,
// without sockets (http_server.hpp serves it). It reads the topology, links, routes and flows
// from BringUp and the Store, and changes link parameters and adds flows through BringUp,
// handing the messages BringUp returns to `deliver` (the WebSocket server sends them).
//   GET   /api/topology              nodes (addresses, connected, ready) and edges
//   GET   /api/links                 every directed link: params (config units), up, counters
//   GET   /api/links/{src}/{dst}     one directed link
//   PATCH /api/links/{src}/{dst}     {"delay": "20ms", "loss": "1%", ..., "both": true}
//   GET   /api/routes                routes in force, version, unreachable pairs, down links
//   GET   /api/flows                 flows with state, bytes, times
//   POST  /api/flows                 one flow ({"src_node_id": 1, ...}) or {"flows": [...]}
//   GET   /api/errors                rows of the database the controller refused (config_errors)
// Errors: {"error": {"code": ..., "message": ...}} with 400 (bad JSON, unknown key, bad value —
// every problem listed, one per line, each naming its key and value), 404 (unknown path, link
// or node) or 405 (method). A request is validated whole — for "both", both directions —
// before anything is stored or sent, so nothing is ever half-applied.
// Thread: the controller's io_context (BringUp and the Store are not thread-safe).

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/store.hpp"

namespace nextmini::controller {

struct HttpRequest {
  std::string method;  // "GET", "PATCH", ...
  std::string target;  // "/api/links/1/2" (a query string is ignored)
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string body;  // JSON, ending with a newline
};

class HttpApi {
 public:
  using Deliver = std::function<void(std::vector<Outgoing>)>;

  // Relative `trace` paths in a PATCH are read from `base_dir` (the config file's directory).
  HttpApi(BringUp& bring_up, Store& store, Deliver deliver, std::filesystem::path base_dir);

  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse topology() const;
  HttpResponse links() const;
  HttpResponse link(NodeId src, NodeId dst) const;
  HttpResponse patch_link(NodeId src, NodeId dst, const std::string& body);
  HttpResponse routes() const;
  HttpResponse flows() const;
  HttpResponse post_flows(const std::string& body);
  HttpResponse errors() const;

  BringUp& bring_up_;
  Store& store_;
  Deliver deliver_;
  std::filesystem::path base_dir_;
};

// "127.0.0.1:3080" -> address and port; "off" -> nullopt address. Errors name the option:
// "--http: \"x\" is not ADDRESS:PORT (or \"off\")". Shared by the CLI and the config loader.
struct HttpListen {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 3080;
};
Result<HttpListen> parse_http_listen(std::string_view text, std::string_view what);

}  // namespace nextmini::controller
