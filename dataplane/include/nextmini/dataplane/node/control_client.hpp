#pragma once
// ControlClient: the node's side of the control protocol (DESIGN.md §5) — a Boost.Beast
// WebSocket client to ws://host:port/target, one binary frame per message (messages/codec.hpp).
//   On every (re)connect it first sends the StartUp set by set_startup(), then whatever send()
//   queues (one writer, a bounded send queue; while disconnected send() drops and counts).
//   Every decoded message goes to on_message; an undecodable frame is counted by error code,
//   logged once per code, answered with an ErrorMessage and otherwise ignored (never fatal).
//   A lost or refused connection is retried with exponential backoff and jitter.
//   Knobs: ControlClientConfig. Counters: counters().
//   Thread: the io_context's thread; handlers run there. close() before destroying; destroy
//   only after the io_context has run the cancelled handlers.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/transport/backoff.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct ControlClientConfig {
  std::string host;
  std::uint16_t port = 3000;
  std::string target = "/";
  std::size_t send_queue_limit = 4096;  // messages
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{15000};  // no frame and no pong for this long: reconnect
  BackoffConfig backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(5000)};

  // Parses "ws://HOST:PORT[/TARGET]" (port defaults to 80). Errors: "control.url".
  static Result<ControlClientConfig> from_url(std::string_view url);
};

struct ControlClientCounters {
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t dropped_sends = 0;  // send() while disconnected or with a full queue
  std::uint64_t undecodable = 0;
  std::map<std::string, std::uint64_t> undecodable_by_code;
};

class ControlClient {
 public:
  using MessageHandler = std::function<void(messages::Message& message)>;
  using StateHandler = std::function<void(bool connected)>;

  ControlClient(boost::asio::io_context& io, ControlClientConfig config, MessageHandler on_message,
                StateHandler on_state = {});
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;
  ~ControlClient();

  // The StartUp sent first on every connection (update it when the controller assigns an id).
  void set_startup(messages::StartUp startup) { startup_ = std::move(startup); }
  const messages::StartUp& startup() const noexcept { return startup_; }

  void start();
  // Queues a message for the controller; dropped (and counted) while disconnected.
  void send(const messages::Message& message);
  // Closes the connection and stops reconnecting. Idempotent.
  void close();

  bool connected() const noexcept;
  const ControlClientCounters& counters() const noexcept { return counters_; }

 private:
  struct Session;
  using SessionPtr = std::shared_ptr<Session>;

  void connect();
  void schedule_reconnect();
  void on_open(const SessionPtr& session);
  void drop_session(const SessionPtr& session, std::string_view what,
                    const boost::system::error_code& error);
  void enqueue(const SessionPtr& session, const messages::Message& message);
  void write_next(const SessionPtr& session);
  void read_next(const SessionPtr& session);
  void handle_frame(const SessionPtr& session);

  boost::asio::io_context& io_;
  ControlClientConfig config_;
  MessageHandler on_message_;
  StateHandler on_state_;
  messages::StartUp startup_;
  SessionPtr session_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer reconnect_timer_;
  Backoff backoff_;
  std::set<std::string> logged_codes_;
  bool started_ = false;
  bool stopped_ = false;
  bool logged_connect_error_ = false;
  ControlClientCounters counters_;
};

}  // namespace nextmini::dataplane
