#include "nextmini/dataplane/transport/tcp_link.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <span>
#include <vector>

#include "nextmini/dataplane/transport/link_frame.hpp"
#include "nextmini/dataplane/transport/link_frame_reader.hpp"
#include "nextmini/dataplane/transport/link_hello.hpp"

namespace nextmini::dataplane {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One TCP connection and everything that must not outlive it or leak into the next one:
// the frame reader, the send queue and the frames of the write in flight.
struct TcpLink::Connection {
  Connection(tcp::socket s, PacketPool& pool, PacketPool* large_pool, std::size_t max_frame,
             std::size_t queue_size, std::size_t max_gather)
      : socket(std::move(s)),
        reader(pool, large_pool, max_frame),
        queue(std::max<std::size_t>(queue_size, 1)) {
    in_flight.reserve(max_gather);
    buffers.reserve(max_gather);
  }

  bool queue_full() const noexcept { return queue_count == queue.size(); }
  void push(Packet&& packet) {
    queue[(queue_head + queue_count) % queue.size()] = std::move(packet);
    ++queue_count;
  }
  Packet pop() {
    Packet packet = std::move(queue[queue_head]);
    queue_head = (queue_head + 1) % queue.size();
    --queue_count;
    return packet;
  }

  tcp::socket socket;
  LinkFrameReader reader;
  std::array<asio::mutable_buffer, 2> read_buffers;  // what the read in progress fills
  std::vector<Packet> queue;                         // ring
  std::size_t queue_head = 0;
  std::size_t queue_count = 0;
  std::vector<Packet> in_flight;
  std::vector<asio::const_buffer> buffers;
  std::array<std::uint8_t, LinkHello::kSize> hello{};
  bool open = true;
  bool writing = false;
};

TcpLink::TcpLink(asio::io_context& io, PacketPool& pool, TcpLinkConfig config,
                 ReceiveHandler on_receive, StateHandler on_state, PacketPool* large_pool)
    : io_(io),
      pool_(pool),
      large_pool_(large_pool),
      config_(std::move(config)),
      on_receive_(std::move(on_receive)),
      on_state_(std::move(on_state)),
      max_frame_(large_pool != nullptr ? large_pool->buffer_size() - large_pool->headroom()
                                       : pool.buffer_size() - pool.headroom()),
      reconnect_timer_(io),
      connect_timer_(io),
      backoff_(config_.backoff) {}

TcpLink::~TcpLink() { close(); }

bool TcpLink::connected() const noexcept { return current_ != nullptr && current_->open; }

void TcpLink::start() {
  if (started_ || stopped_) return;
  started_ = true;
  if (config_.dial) dial();
}

TcpLink::ConnectionPtr TcpLink::make_connection(tcp::socket socket) {
  return std::make_shared<Connection>(std::move(socket), pool_, large_pool_, max_frame_,
                                      config_.send_queue_packets, config_.max_gather);
}

void TcpLink::dial() {
  if (stopped_) return;
  boost::system::error_code error;
  const auto address = asio::ip::make_address(config_.address, error);
  if (error) {
    spdlog::error("link to node {}: '{}' is not an IP address; not connecting", config_.neighbor,
                  config_.address);
    return;
  }
  auto connection = make_connection(tcp::socket(io_));
  connection->open = false;  // not usable until the hello is out
  connecting_ = connection;
  connect_timer_.expires_after(config_.connect_timeout);
  connect_timer_.async_wait([this, connection](const boost::system::error_code& timer_error) {
    if (!timer_error && connecting_ == connection) {
      boost::system::error_code ignored;
      connection->socket.close(ignored);  // completes the connect with an error
    }
  });
  connection->socket.async_connect(
      tcp::endpoint(address, config_.port),
      [this, connection](const boost::system::error_code& connect_error) {
        if (stopped_ || connecting_ != connection) return;
        if (connect_error) {
          connecting_.reset();
          connect_timer_.cancel();
          if (!logged_connect_error_) {
            logged_connect_error_ = true;
            spdlog::info("link to node {} ({}:{}): connect failed: {}; retrying with backoff",
                         config_.neighbor, config_.address, config_.port, connect_error.message());
          }
          schedule_reconnect();
          return;
        }
        boost::system::error_code ignored;
        connection->socket.set_option(tcp::no_delay(true), ignored);
        connection->hello = LinkHello{config_.self}.encode();
        asio::async_write(
            connection->socket, asio::buffer(connection->hello),
            [this, connection](const boost::system::error_code& write_error, std::size_t) {
              if (stopped_ || connecting_ != connection) return;
              connecting_.reset();
              connect_timer_.cancel();
              if (write_error) {
                schedule_reconnect();
                return;
              }
              connection->open = true;
              logged_connect_error_ = false;
              activate(connection);
            });
      });
}

void TcpLink::set_remote(std::string address, std::uint16_t port) {
  config_.address = std::move(address);
  config_.port = port;
}

bool TcpLink::update(const std::string& address, std::uint16_t port, bool dial) {
  if (dial != config_.dial) return false;
  if (dial && (address != config_.address || port != config_.port)) {
    spdlog::info("link to node {}: neighbour moved to {}:{}; redialing", config_.neighbor, address,
                 port);
    set_remote(address, port);
    drop_connection();
  }
  return true;
}

bool TcpLink::offer_connection(tcp::socket& socket) {
  if (config_.dial) return false;
  adopt(std::move(socket));
  return true;
}

void TcpLink::schedule_reconnect() {
  if (stopped_ || !config_.dial) return;
  reconnect_timer_.expires_after(backoff_.next());
  reconnect_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && !stopped_ && !connecting_ && !connected()) dial();
  });
}

void TcpLink::adopt(tcp::socket socket) {
  if (stopped_) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  activate(make_connection(std::move(socket)));
}

void TcpLink::activate(const ConnectionPtr& connection) {
  if (current_) {
    // A replacement: the old connection goes without a state change in between.
    ConnectionPtr old = std::move(current_);
    StateHandler saved = std::move(on_state_);
    on_state_ = nullptr;
    fail_connection(old);
    on_state_ = std::move(saved);
  }
  current_ = connection;
  ++counters_.connects;
  backoff_.reset();
  spdlog::debug("link to node {}: connected", config_.neighbor);
  if (on_state_) on_state_(config_.neighbor, true);
  if (current_ == connection) start_read(connection);
}

void TcpLink::fail_connection(const ConnectionPtr& connection) {
  if (!connection->open) return;
  connection->open = false;
  boost::system::error_code ignored;
  connection->socket.shutdown(tcp::socket::shutdown_both, ignored);
  connection->socket.close(ignored);
  // Frames queued but not yet written are lost with the connection; frames in flight are
  // released by the write handler once the cancelled write completes.
  counters_.drops.add(DropReason::kLinkDown, connection->queue_count);
  while (connection->queue_count > 0) connection->pop();
  connection->reader.clear();  // a frame half read is lost with the stream
  ++counters_.disconnects;
  if (current_ == connection) current_.reset();
  notify_room();  // nothing queues now (send() drops as link_down): nobody should wait
  if (stopped_) return;
  spdlog::debug("link to node {}: disconnected", config_.neighbor);
  if (on_state_) on_state_(config_.neighbor, false);
  schedule_reconnect();
}

std::size_t TcpLink::send_room() const noexcept {
  if (!connected()) return SIZE_MAX;
  return current_->queue.size() - current_->queue_count;
}

void TcpLink::notify_room() {
  if (!want_room_ || !on_room_) return;
  want_room_ = false;
  on_room_();
}

void TcpLink::drop_connection() {
  if (current_) fail_connection(current_);
}

void TcpLink::close() {
  if (stopped_) return;
  stopped_ = true;
  reconnect_timer_.cancel();
  connect_timer_.cancel();
  if (connecting_) {
    boost::system::error_code ignored;
    connecting_->socket.close(ignored);
    connecting_.reset();
  }
  if (current_) fail_connection(current_);
  rx_batch_.clear();
}

void TcpLink::send(PacketBatch& batch) {
  Connection* connection = connected() ? current_.get() : nullptr;
  for (Packet& packet : batch) {
    if (connection == nullptr) {
      counters_.drops.add(DropReason::kLinkDown);
    } else if (packet.size() == 0) {
      counters_.drops.add(DropReason::kTooShort);
    } else if (packet.size() > max_frame_) {
      counters_.drops.add(DropReason::kTooBig);
    } else if (connection->queue_full()) {
      counters_.drops.add(DropReason::kQueueFull);
    } else if (!packet.push_front(kFramePrefix)) {
      counters_.drops.add(DropReason::kTooBig);  // no headroom left for the frame prefix
    } else {
      write_link_frame_prefix(packet.data(), packet.size() - kFramePrefix);
      connection->push(std::move(packet));
    }
  }
  batch.clear();
  if (connection != nullptr && !connection->writing && connection->queue_count > 0)
    start_write(current_);
}

void TcpLink::start_write(const ConnectionPtr& connection) {
  connection->in_flight.clear();
  connection->buffers.clear();
  while (connection->queue_count > 0 && connection->in_flight.size() < config_.max_gather) {
    connection->in_flight.push_back(connection->pop());
    const Packet& packet = connection->in_flight.back();
    connection->buffers.emplace_back(packet.data(), packet.size());
  }
  connection->writing = true;
  // A span, not the vector: asio's write operation keeps a copy of the buffer sequence, and a
  // copied vector would be a heap allocation per write (allocation_test.cpp).
  asio::async_write(
      connection->socket,
      std::span<const asio::const_buffer>(connection->buffers.data(), connection->buffers.size()),
      [this, connection](const boost::system::error_code& error, std::size_t written) {
        connection->writing = false;
        const std::size_t frames = connection->in_flight.size();
        connection->in_flight.clear();
        counters_.tx_bytes += written;
        ++counters_.tx_writes;
        if (error) {
          counters_.drops.add(DropReason::kLinkDown, frames);
          if (connection->open) fail_connection(connection);
          return;
        }
        counters_.tx_packets += frames;
        if (connection->open && connection->queue_count > 0) start_write(connection);
        if (connection->open) notify_room();
      });
}

void TcpLink::start_read(const ConnectionPtr& connection) {
  const LinkFrameReader::Buffers into = connection->reader.read_buffers();
  for (std::size_t i = 0; i < into.count; ++i)
    connection->read_buffers[i] = asio::buffer(into.spans[i].data(), into.spans[i].size());
  // A span over the connection's array: the read operation copies it without allocating.
  connection->socket.async_read_some(
      std::span<const asio::mutable_buffer>(connection->read_buffers.data(), into.count),
      [this, connection](const boost::system::error_code& error, std::size_t n) {
        if (!connection->open) return;
        if (error) {
          fail_connection(connection);
          return;
        }
        connection->reader.commit(n);
        counters_.rx_bytes += n;
        ++counters_.rx_reads;
        if (!take_frames(*connection)) {
          ++counters_.bad_frames;
          counters_.drops.add(DropReason::kBadFrame);
          spdlog::debug("link to node {}: bad frame; closing the connection", config_.neighbor);
          fail_connection(connection);
          return;
        }
        if (connection->open) start_read(connection);
      });
}

bool TcpLink::take_frames(Connection& connection) {
  for (;;) {
    Packet packet;
    switch (connection.reader.next(packet)) {
      case LinkFrameReader::Next::kFrame:
        packet.meta().ingress_neighbor = config_.neighbor;
        ++counters_.rx_packets;
        rx_batch_.push(std::move(packet));
        if (rx_batch_.full()) deliver();
        break;
      case LinkFrameReader::Next::kNoBuffer:
        counters_.drops.add(DropReason::kPoolExhausted);
        break;
      case LinkFrameReader::Next::kNeedMore:
        deliver();
        return true;
      case LinkFrameReader::Next::kBad:
        deliver();
        return false;
    }
  }
}

void TcpLink::deliver() {
  if (rx_batch_.empty()) return;
  if (on_receive_) on_receive_(config_.neighbor, rx_batch_);
  rx_batch_.clear();
}

}  // namespace nextmini::dataplane
