#pragma once
// Opens a TCP acceptor for the controller's servers (the WebSocket endpoint, the HTTP API):
// address parsed, SO_REUSEADDR, bound, listening. Private to the controller library.

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "nextmini/common/result.hpp"

namespace nextmini::controller::detail {

// Errors carry `code`: "<address_name> \"ADDR\" is not an IP address", or
// "cannot <action> ADDR:PORT: <reason>" (e.g. action "listen on").
inline Result<void> listen_on(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address,
                              std::uint16_t port, std::string_view code,
                              std::string_view address_name, std::string_view action) {
  namespace asio = boost::asio;
  boost::system::error_code error;
  const auto ip = asio::ip::make_address(address, error);
  if (error) {
    return fail(std::string(code),
                fmt::format("{} \"{}\" is not an IP address", address_name, address));
  }
  const asio::ip::tcp::endpoint endpoint(ip, port);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return fail(std::string(code),
                fmt::format("cannot {} {}:{}: {}", action, address, port, error.message()));
  }
  return ok();
}

}  // namespace nextmini::controller::detail
