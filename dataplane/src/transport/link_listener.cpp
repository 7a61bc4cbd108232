#include "nextmini/dataplane/transport/link_listener.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

#include "nextmini/dataplane/transport/link_hello.hpp"

namespace nextmini::dataplane {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct LinkListener::Pending {
  explicit Pending(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::array<std::uint8_t, LinkHello::kSize> hello{};
  bool done = false;
};

LinkListener::LinkListener(asio::io_context& io, AcceptHandler on_accept,
                           std::chrono::milliseconds hello_timeout)
    : io_(io), on_accept_(std::move(on_accept)), hello_timeout_(hello_timeout), acceptor_(io) {}

LinkListener::~LinkListener() { close(); }

Result<void> LinkListener::listen(const std::string& address, std::uint16_t port) {
  const std::string where = address + ":" + std::to_string(port);
  boost::system::error_code error;
  const auto ip = asio::ip::make_address(address, error);
  if (error) return fail("link.listen", "listen address '" + address + "' is not an IP address");
  const tcp::endpoint endpoint(ip, port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return fail("link.listen", "cannot listen for links on " + where + ": " + error.message());
  }
  port_ = acceptor_.local_endpoint(error).port();
  accept_next();
  return ok();
}

void LinkListener::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    if (closed_) return;
    if (error) {
      if (error == asio::error::operation_aborted) return;
      spdlog::warn("link listener: accept failed: {}", error.message());
    } else {
      ++counters_.accepted;
      auto pending = std::make_shared<Pending>(std::move(socket));
      std::erase_if(pending_, [](const auto& weak) { return weak.expired(); });
      pending_.push_back(pending);
      read_hello(pending);
    }
    accept_next();
  });
}

void LinkListener::read_hello(const std::shared_ptr<Pending>& pending) {
  pending->timer.expires_after(hello_timeout_);
  pending->timer.async_wait([this, pending](const boost::system::error_code& error) {
    if (error || pending->done) return;
    pending->done = true;
    ++counters_.bad_hellos;
    spdlog::debug("link listener: no hello within the timeout; closing");
    boost::system::error_code ignored;
    pending->socket.close(ignored);
  });
  asio::async_read(pending->socket, asio::buffer(pending->hello),
                   [this, pending](const boost::system::error_code& error, std::size_t) {
                     if (pending->done) return;
                     pending->done = true;
                     pending->timer.cancel();
                     if (closed_) return;
                     boost::system::error_code ignored;
                     if (error) {
                       ++counters_.bad_hellos;
                       pending->socket.close(ignored);
                       return;
                     }
                     auto hello = LinkHello::parse(pending->hello);
                     if (!hello) {
                       ++counters_.bad_hellos;
                       spdlog::debug("link listener: {}; closing", hello.error().message);
                       pending->socket.close(ignored);
                       return;
                     }
                     ++counters_.handed_over;
                     if (on_accept_) on_accept_(hello->node_id, std::move(pending->socket));
                   });
}

void LinkListener::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& weak : pending_) {
    if (auto pending = weak.lock()) {
      pending->done = true;
      pending->timer.cancel();
      pending->socket.close(ignored);
    }
  }
  pending_.clear();
}

}  // namespace nextmini::dataplane
