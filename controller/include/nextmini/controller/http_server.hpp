#pragma once
// HttpServer: serves HttpApi (http_api.hpp) over HTTP/1.1 with Boost.Beast, on the caller's
// io_context (the WebSocket server's), so the API touches BringUp and the Store from the one
// controller thread. Loopback by default (127.0.0.1:3080; `--http` / `http` in the config).
//   Inputs: HTTP requests (bodies up to 1 MiB; keep-alive honoured). Outputs: JSON responses.
//   Knobs: Options (address, port — 0 picks a free one). Counters: requests, errors (4xx/5xx).
// A connection idles out after 30 s; a malformed request gets 400 and the connection closes.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "nextmini/common/result.hpp"
#include "nextmini/controller/http_api.hpp"

namespace nextmini::controller {

namespace detail {
class HttpSession;
}

struct HttpCounters {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  // responses with status >= 400
};

class HttpServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 3080;
  };

  HttpServer(boost::asio::io_context& io, HttpApi& api, Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Error "http.listen" when the address cannot be bound.
  Result<void> start();
  // The bound port (after start()).
  std::uint16_t port() const { return port_; }
  // Stops accepting and closes every connection. Call on the io_context's thread.
  void stop();

  const HttpCounters& counters() const { return counters_; }

 private:
  friend class detail::HttpSession;

  void accept_next();
  HttpResponse handle(const HttpRequest& request);
  void on_session_closed(std::uint64_t id);

  boost::asio::io_context& io_;
  HttpApi& api_;
  Options options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  std::uint64_t next_session_ = 1;
  std::map<std::uint64_t, std::shared_ptr<detail::HttpSession>> sessions_;
  HttpCounters counters_;
};

}  // namespace nextmini::controller
