#pragma once
// NodeSession: one node's WebSocket connection to the controller (server side). It reads frames
// and hands them to the ControllerServer, and writes the frames the server sends, one at a time
// from a queue (one writer per WebSocket). A frame marked close_after is followed by a close.
// When the connection ends for any reason it tells the server once. Thread: the io_context's.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "nextmini/controller/controller_server.hpp"

namespace nextmini::controller::detail {

class NodeSession : public std::enable_shared_from_this<NodeSession> {
 public:
  using Frame = std::shared_ptr<const std::vector<std::uint8_t>>;

  NodeSession(boost::asio::ip::tcp::socket socket, ConnectionId id, ControllerServer* server);

  // Starts the WebSocket handshake, then the read loop.
  void start();
  // Queues a binary frame; close_after: close the WebSocket once it is written.
  void send(Frame frame, bool close_after);
  // Closes the socket now; pending operations end and the server is told.
  void close();
  // The server is going away: report nothing more to it.
  void detach() { server_ = nullptr; }

  ConnectionId id() const { return id_; }
  const std::string& remote_address() const { return remote_address_; }

 private:
  struct Item {
    Frame frame;
    bool close_after = false;
  };

  void on_accept(boost::beast::error_code error);
  void read_next();
  void on_read(boost::beast::error_code error, std::size_t bytes);
  void write_next();
  void on_write(boost::beast::error_code error, std::size_t bytes, bool close_after);
  void finish();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  ConnectionId id_;
  ControllerServer* server_;
  std::string remote_address_;
  boost::beast::flat_buffer buffer_;
  std::deque<Item> queue_;
  bool open_ = false;     // handshake done
  bool writing_ = false;  // a write (or the final close) is in flight
  bool closing_ = false;  // no more writes
  bool finished_ = false;
};

}  // namespace nextmini::controller::detail
