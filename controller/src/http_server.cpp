#include "nextmini/controller/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "nextmini/common/json_quote.hpp"

namespace nextmini::controller {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace detail {

// One HTTP connection: read a request, answer it, repeat while keep-alive. Thread: the
// io_context's.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  static constexpr std::size_t kMaxBodyBytes = 1 << 20;
  static constexpr auto kIdleTimeout = std::chrono::seconds(30);

  HttpSession(tcp::socket socket, std::uint64_t id, HttpServer* server)
      : stream_(std::move(socket)), id_(id), server_(server) {}

  void start() { read_next(); }
  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }
  void detach() { server_ = nullptr; }

 private:
  void read_next() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

  void on_read(beast::error_code error) {
    if (error == http::error::end_of_stream || server_ == nullptr) return finish();
    if (error) {
      // A malformed or oversized request: say why, then close.
      if (error.category() == make_error_code(http::error::bad_method).category()) {
        HttpResponse bad{400, R"({"error":{"code":"http.bad_request","message":)" +
                                  json_quote(error.message()) + "}}\n"};
        return write(bad, 11, false);
      }
      return finish();
    }
    const auto& request = parser_->get();
    HttpRequest api_request{std::string(request.method_string()), std::string(request.target()),
                            request.body()};
    const HttpResponse response = server_->handle(api_request);
    write(response, request.version(), request.keep_alive());
  }

  void write(const HttpResponse& api_response, unsigned version, bool keep_alive) {
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(api_response.status), version);
    response->set(http::field::server, "nextmini-controller");
    response->set(http::field::content_type, "application/json");
    response->keep_alive(keep_alive);
    response->body() = api_response.body;
    response->prepare_payload();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code error, std::size_t) {
                        if (error || !response->keep_alive()) return self->finish();
                        self->read_next();
                      });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (server_ != nullptr) server_->on_session_closed(id_);
  }

  beast::tcp_stream stream_;
  std::uint64_t id_;
  HttpServer* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool finished_ = false;
};

}  // namespace detail

HttpServer::HttpServer(asio::io_context& io, HttpApi& api, Options options)
    : io_(io), api_(api), options_(std::move(options)), acceptor_(io) {}

HttpServer::~HttpServer() {
  for (auto& [id, session] : sessions_) {
    session->detach();
    session->close();
  }
}

Result<void> HttpServer::start() {
  boost::system::error_code error;
  const auto address = asio::ip::make_address(options_.address, error);
  if (error) {
    return fail("http.listen",
                fmt::format("HTTP address \"{}\" is not an IP address", options_.address));
  }
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return fail("http.listen", fmt::format("cannot serve the HTTP API on {}:{}: {}",
                                           options_.address, options_.port, error.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  spdlog::info("HTTP API on http://{}:{}/api/", options_.address, port_);
  accept_next();
  return ok();
}

void HttpServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  const auto sessions = sessions_;  // closing removes entries
  for (const auto& [id, session] : sessions) session->close();
}

void HttpServer::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
    if (error) {
      if (stopped_ || error == asio::error::operation_aborted) return;
      spdlog::warn("HTTP accept failed: {}", error.message());
    } else {
      ++counters_.connections;
      const auto id = next_session_++;
      auto session = std::make_shared<detail::HttpSession>(std::move(socket), id, this);
      sessions_[id] = session;
      session->start();
    }
    if (!stopped_) accept_next();
  });
}

HttpResponse HttpServer::handle(const HttpRequest& request) {
  ++counters_.requests;
  HttpResponse response = api_.handle(request);
  if (response.status >= 400) {
    ++counters_.errors;
    spdlog::info("HTTP {} {}: {}", request.method, request.target, response.status);
  } else if (request.method != "GET") {
    spdlog::info("HTTP {} {} {}: {}", request.method, request.target, request.body,
                 response.status);
  }
  return response;
}

void HttpServer::on_session_closed(std::uint64_t id) { sessions_.erase(id); }

}  // namespace nextmini::controller
