#include "api_client.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

#include "controller_status.hpp"
#include "netns.hpp"

namespace nextmini::launcher {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr int kTimeoutSeconds = 10;

Result<ApiEndpoint> parse_host_port(std::string_view text, std::string_view what) {
  const auto colon = text.rfind(':');
  unsigned port = 0;
  if (colon != std::string_view::npos && colon > 0) {
    const auto digits = text.substr(colon + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (error == std::errc() && end == digits.data() + digits.size() && port > 0 && port < 65536) {
      boost::system::error_code bad;
      asio::ip::make_address(std::string(text.substr(0, colon)), bad);
      if (!bad) {
        return ApiEndpoint{std::string(text.substr(0, colon)), static_cast<std::uint16_t>(port),
                           ""};
      }
    }
  }
  return fail("ctl.url", fmt::format("{}: \"{}\" is not http://ADDRESS:PORT "
                                     "(an IP address, e.g. http://127.0.0.1:3080)",
                                     what, text));
}

}  // namespace

std::string ApiEndpoint::describe() const {
  return fmt::format("http://{}:{}{}", host, port,
                     netns.empty() ? "" : fmt::format(" in namespace {}", netns));
}

Result<ApiEndpoint> parse_api_url(std::string_view url) {
  std::string_view rest = url;
  constexpr std::string_view kScheme = "http://";
  if (rest.substr(0, kScheme.size()) != kScheme) {
    return fail("ctl.url", fmt::format("--url: \"{}\" does not start with http://", url));
  }
  rest.remove_prefix(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  auto parsed = parse_host_port(rest, "--url");
  if (!parsed) {
    return fail("ctl.url", fmt::format("--url: \"{}\" is not http://ADDRESS:PORT "
                                       "(an IP address, e.g. http://127.0.0.1:3080)",
                                       url));
  }
  return parsed;
}

Result<ApiEndpoint> find_running_api(const RunDirectory& run_dir) {
  auto state = read_state(run_dir.state_path());
  if (!state) return Failure{state.error()};
  if (!state->has_value()) {
    return fail("ctl.no_network",
                fmt::format("no network is up ({} does not exist); is a network up? try --url",
                            run_dir.state_path()));
  }
  const auto& recorded = **state;
  auto status = read_controller_status(recorded.status_file);
  if (!status) return Failure{status.error()};
  if (!status->has_value() || (*status)->http.empty()) {
    return fail("ctl.no_api",
                fmt::format("the controller's status file {} names no HTTP API (not started yet, "
                            "or `http = \"off\"`); try --url",
                            recorded.status_file));
  }
  auto endpoint = parse_host_port((*status)->http, recorded.status_file);
  if (!endpoint) return Failure{endpoint.error()};
  // The controller runs inside its namespace: a wildcard address is reached on loopback there.
  if (endpoint->host == "0.0.0.0") endpoint->host = "127.0.0.1";
  endpoint->netns = recorded.controller.netns;
  return endpoint;
}

Result<ApiReply> call_api(const ApiEndpoint& endpoint, std::string_view method,
                          std::string_view target, std::string_view body) {
  if (!endpoint.netns.empty()) {
    if (auto entered = Netns::enter(endpoint.netns); !entered) {
      return fail("ctl.connect", entered.error().message);
    }
  }
  auto failed = [&](std::string_view what, const boost::system::error_code& error) {
    return fail("ctl.connect", fmt::format("cannot {} the controller's HTTP API at {}: {}", what,
                                           endpoint.describe(), error.message()));
  };
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  boost::system::error_code error;
  const asio::ip::tcp::endpoint address(asio::ip::make_address(endpoint.host, error),
                                        endpoint.port);
  if (error) return failed("reach", error);
  socket.open(address.protocol(), error);
  if (error) return failed("reach", error);
  // Blocking calls that give up after kTimeoutSeconds.
  const timeval timeout{kTimeoutSeconds, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  socket.connect(address, error);
  if (error) return failed("connect to", error);

  http::request<http::string_body> request{http::string_to_verb(method), std::string(target), 11};
  request.set(http::field::host, fmt::format("{}:{}", endpoint.host, endpoint.port));
  request.set(http::field::user_agent, "nextmini-ctl");
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::string(body);
  request.keep_alive(false);
  request.prepare_payload();
  http::write(socket, request, error);
  if (error) return failed("send to", error);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, error);
  if (error && error != http::error::end_of_stream) return failed("read from", error);
  return ApiReply{response.result_int(), std::move(response.body())};
}

}  // namespace nextmini::launcher
