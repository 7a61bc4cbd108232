#pragma once
// ControllerServer: the WebSocket endpoint nodes connect to (Boost.Beast, binary frames, one
// MessagePack message each — messages/codec.hpp). It owns no thread: it runs on the caller's
// io_context, and everything (BringUp, the Store) is touched only from that thread.
//   Inputs: node connections on listen_address:port. Outputs: the messages BringUp answers.
//   Knobs: Options (listen address, port — 0 picks a free one —, status file path).
//   Counters: ServerCounters (frames in/out, undecodable frames, refusals).
// Every connection has one writer with a send queue (DESIGN.md §7). An undecodable frame is
// answered with an ErrorMessage (the decoder's code) and counted; the connection stays open.
// Each connection idles out after 30 s without traffic (Beast sends pings at half of that).

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "nextmini/common/result.hpp"
#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/status_file.hpp"

namespace nextmini::controller {

namespace detail {
class NodeSession;
}

struct ServerCounters {
  std::uint64_t connections = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t decode_errors = 0;    // undecodable or non-binary frames
  std::uint64_t protocol_errors = 0;  // ErrorMessage answers to decodable messages
};

class ControllerServer {
 public:
  struct Options {
    std::string listen_address = "0.0.0.0";
    std::uint16_t port = 3000;
    std::string status_file;  // empty: none
  };

  ControllerServer(boost::asio::io_context& io, BringUp& bring_up, Options options);
  ~ControllerServer();
  ControllerServer(const ControllerServer&) = delete;
  ControllerServer& operator=(const ControllerServer&) = delete;

  // Binds and starts accepting. Error "server.listen" when the address cannot be bound.
  Result<void> start();
  // The bound port (after start()).
  std::uint16_t port() const { return port_; }
  // Stops accepting and closes every connection; io_context::run() then returns once the
  // connections' handlers have finished. Call on the io_context's thread.
  void stop();
  // stop(), posted to the io_context: safe from any thread.
  void async_stop();

  // Called (on the io_context thread) the first time every node is ready.
  void on_topology_ready(std::function<void()> callback) { on_ready_ = std::move(callback); }
  // Extra lines for the status file's "errors" (e.g. unreachable pairs).
  void set_status_errors(std::vector<std::string> errors) { status_errors_ = std::move(errors); }
  // Where the HTTP API listens, for the status file ("127.0.0.1:3080"; empty: off).
  void set_status_http(std::string address) { status_http_ = std::move(address); }
  // Sends messages BringUp returned outside a node's message (the HTTP API's changes).
  void deliver(std::vector<Outgoing> outgoing);
  // Rewrites the status file now (after a change that is not a bring-up event, e.g. a reroute).
  void refresh_status() { write_status(); }

  // BringUp::add_flows, then sends what it returns and rewrites the status file. For the HTTP
  // API; call on the io_context's thread.
  Result<FlowsAdded> add_flows(std::vector<messages::FlowSpec> flows);

  const ServerCounters& counters() const { return counters_; }
  ControllerStatus status() const;

 private:
  friend class detail::NodeSession;

  void accept_next();
  void on_session_open(const std::shared_ptr<detail::NodeSession>& session);
  void on_frame(const std::shared_ptr<detail::NodeSession>& session, const std::uint8_t* data,
                std::size_t size, bool binary);
  void on_session_closed(ConnectionId connection);
  void write_status();

  boost::asio::io_context& io_;
  BringUp& bring_up_;
  Options options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  ConnectionId next_connection_ = 1;
  std::map<ConnectionId, std::shared_ptr<detail::NodeSession>> sessions_;
  ServerCounters counters_;
  std::vector<std::string> status_errors_;
  std::string status_http_;
  std::function<void()> on_ready_;
  bool ready_reported_ = false;
};

}  // namespace nextmini::controller
