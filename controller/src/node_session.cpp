#include "node_session.hpp"

#include <chrono>

namespace nextmini::controller::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
constexpr std::size_t kMaxMessageBytes = 16 * 1024 * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(30);
}  // namespace

NodeSession::NodeSession(boost::asio::ip::tcp::socket socket, ConnectionId id,
                         ControllerServer* server)
    : ws_(std::move(socket)), id_(id), server_(server) {
  boost::system::error_code error;
  // Control messages are small and latency matters more than packing: no Nagle delay.
  beast::get_lowest_layer(ws_).socket().set_option(boost::asio::ip::tcp::no_delay(true), error);
  const auto endpoint = beast::get_lowest_layer(ws_).socket().remote_endpoint(error);
  if (!error) remote_address_ = endpoint.address().to_string();
}

void NodeSession::start() {
  beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts apply
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = kHandshakeTimeout;
  timeouts.idle_timeout = kIdleTimeout;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.read_message_max(kMaxMessageBytes);
  ws_.binary(true);
  ws_.async_accept(
      [self = shared_from_this()](beast::error_code error) { self->on_accept(error); });
}

void NodeSession::on_accept(beast::error_code error) {
  if (error) return finish();
  open_ = true;
  read_next();
  if (!queue_.empty() && !writing_) write_next();
}

void NodeSession::read_next() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code error, std::size_t bytes) {
    self->on_read(error, bytes);
  });
}

void NodeSession::on_read(beast::error_code error, std::size_t bytes) {
  if (error) return finish();
  if (server_ != nullptr) {
    const auto data = buffer_.cdata();
    server_->on_frame(shared_from_this(), static_cast<const std::uint8_t*>(data.data()), bytes,
                      ws_.got_binary());
  }
  buffer_.consume(buffer_.size());
  if (!finished_) read_next();
}

void NodeSession::send(Frame frame, bool close_after) {
  if (closing_ || finished_) return;
  queue_.push_back({std::move(frame), close_after});
  if (close_after) closing_ = true;
  if (open_ && !writing_) write_next();
}

void NodeSession::write_next() {
  if (queue_.empty() || finished_) return;
  writing_ = true;
  Item item = std::move(queue_.front());
  queue_.pop_front();
  const Frame frame = item.frame;
  ws_.async_write(boost::asio::buffer(*frame),
                  [self = shared_from_this(), frame, close_after = item.close_after](
                      beast::error_code error, std::size_t bytes) {
                    self->on_write(error, bytes, close_after);
                  });
}

void NodeSession::on_write(beast::error_code error, std::size_t /*bytes*/, bool close_after) {
  if (error) {
    writing_ = false;
    return close();
  }
  if (close_after) {
    queue_.clear();
    ws_.async_close(websocket::close_code::policy_error,
                    [self = shared_from_this()](beast::error_code) {
                      self->writing_ = false;
                      self->close();
                    });
    return;
  }
  writing_ = false;
  write_next();
}

void NodeSession::close() {
  closing_ = true;
  queue_.clear();
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both,
                                                 ignored);
  beast::get_lowest_layer(ws_).close();
}

void NodeSession::finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  queue_.clear();
  if (server_ != nullptr) server_->on_session_closed(id_);
}

}  // namespace nextmini::controller::detail
