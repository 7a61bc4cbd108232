#pragma once
// Listener: PostgreSQL LISTEN/NOTIFY on an io_context, without blocking it while idle and
// without spinning. It owns its own connection (a listening session must not run other
// queries), runs LISTEN for each channel, then waits for the socket to turn readable
// (posix::stream_descriptor::async_wait on a dup of PQsocket), reads with PQconsumeInput and
// hands every PQnotifies() entry to on_notify.
// When the connection is lost (the server stops or restarts, the network drops) it closes the
// socket, calls on_lost once with the reason and reconnects with exponential backoff and jitter;
// after every successful (re)connect and LISTEN it calls on_connected, which is where the owner
// catches up on what it missed (notifications are not queued for a disconnected listener).
// Connecting does not block either: PQconnectStartParams, then PQconnectPoll each time the
// socket is ready, abandoned after Connection::kConnectTimeoutS; only the LISTEN statements,
// once connected, are synchronous round trips.
// Inputs: a libpq URL and channel names. Outputs: the three callbacks, on the io_context's
// thread. Knobs: backoff (default 100 ms doubling to 5 s). Counters: notifications(),
// losses(), connects().
// Thread: the io_context's. stop() or the destructor cancels everything; callbacks never run
// after either.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nextmini/common/backoff.hpp"
#include "nextmini/common/result.hpp"
#include "nextmini/controller/pg/connection.hpp"

namespace nextmini::controller::pg {

struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;  // the notifying backend's process id
};

struct ListenerHandlers {
  std::function<void(const Notification&)> on_notify;
  std::function<void()> on_connected;         // connected and listening (first time and after)
  std::function<void(const Error&)> on_lost;  // lost, or the first connect failed
};

class Listener {
 public:
  Listener(boost::asio::any_io_executor executor, std::string url,
           std::vector<std::string> channels, ListenerHandlers handlers,
           BackoffConfig backoff = {std::chrono::milliseconds(100),
                                    std::chrono::milliseconds(5000)});
  ~Listener();

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Connects now; on failure reports on_lost and keeps retrying in the background.
  void start();
  void stop();

  bool connected() const { return listening_ && connection_.is_open(); }
  std::uint64_t notifications() const { return notifications_; }
  std::uint64_t losses() const { return losses_; }
  std::uint64_t connects() const { return connects_; }

 private:
  void connect();
  void wait_for_connect(Connection::ConnectStep step);
  void listen();
  void wait_readable();
  void on_readable();
  void lose(Error error);
  void retry_later();
  bool alive() const { return !stopped_; }

  boost::asio::any_io_executor executor_;
  std::string url_;
  std::vector<std::string> channels_;
  ListenerHandlers handlers_;
  Backoff backoff_;
  Connection connection_;
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  boost::asio::steady_timer retry_timer_;  // the next retry, or the connect deadline
  std::shared_ptr<bool> token_ = std::make_shared<bool>(true);  // handlers hold a weak_ptr
  bool stopped_ = true;
  bool listening_ = false;
  bool reported_loss_ = false;  // on_lost once per outage, not once per failed retry
  std::uint64_t notifications_ = 0;
  std::uint64_t losses_ = 0;
  std::uint64_t connects_ = 0;
};

}  // namespace nextmini::controller::pg
