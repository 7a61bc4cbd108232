#pragma once
// LinkListener: the accepting end of tcp links. Listens on (address, port) — port 0 picks an
// ephemeral port, reported by port() — accepts connections, reads each one's LinkHello (within
// hello_timeout) and hands the socket with the dialer's node id to on_accept, which gives it to
// that neighbour's TcpLink. A bad or missing hello closes the socket and is counted.
// Counters: accepted, handed over, bad hellos (wrong bytes, or none before the timeout).
// Thread: the io_context's thread. close() before destroying; destroy only after the
// io_context has run the cancelled handlers.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct LinkListenerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t handed_over = 0;
  std::uint64_t bad_hellos = 0;
};

class LinkListener {
 public:
  using AcceptHandler =
      std::function<void(messages::NodeId neighbor, boost::asio::ip::tcp::socket socket)>;

  LinkListener(boost::asio::io_context& io, AcceptHandler on_accept,
               std::chrono::milliseconds hello_timeout = std::chrono::seconds(5));
  LinkListener(const LinkListener&) = delete;
  LinkListener& operator=(const LinkListener&) = delete;
  ~LinkListener();

  // Binds and starts accepting. Errors: "link.listen" naming the address and port.
  Result<void> listen(const std::string& address, std::uint16_t port);
  // The bound port (the ephemeral one when listen() was given 0); 0 before listen().
  std::uint16_t port() const noexcept { return port_; }
  // Stops accepting and closes connections still waiting for their hello. Idempotent.
  void close();

  const LinkListenerCounters& counters() const noexcept { return counters_; }

 private:
  struct Pending;

  void accept_next();
  void read_hello(const std::shared_ptr<Pending>& pending);

  boost::asio::io_context& io_;
  AcceptHandler on_accept_;
  std::chrono::milliseconds hello_timeout_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<Pending>> pending_;
  std::uint16_t port_ = 0;
  bool closed_ = false;
  LinkListenerCounters counters_;
};

}  // namespace nextmini::dataplane
