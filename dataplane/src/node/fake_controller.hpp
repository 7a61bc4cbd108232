#pragma once
// FakeController (tests only): a tiny Boost.Beast WebSocket server standing in for the
// controller. It records every frame it gets (decoded) per connection, sends what the test asks
// and drops connections on demand. Runs on the io_context given; not thread-safe.

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "nextmini/messages/codec.hpp"

namespace nextmini::dataplane::test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class FakeController {
 public:
  explicit FakeController(asio::io_context& io, std::uint16_t port = 0)
      : io_(io), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)) {
    accept();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t connections() const { return sessions_.size(); }
  const std::vector<messages::Message>& received(std::size_t connection) const {
    return sessions_.at(connection)->received;
  }

  void send_bytes(std::size_t connection, std::vector<std::uint8_t> bytes) {
    auto& session = sessions_.at(connection);
    session->outgoing.push_back(std::move(bytes));
    if (session->outgoing.size() == 1) write(session);
  }
  void send(std::size_t connection, const messages::Message& message) {
    send_bytes(connection, messages::encode(message));
  }
  void drop(std::size_t connection) {
    boost::system::error_code ignored;
    beast::get_lowest_layer(sessions_.at(connection)->ws).socket().close(ignored);
  }
  void close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (std::size_t i = 0; i < sessions_.size(); ++i) drop(i);
  }

 private:
  struct Session {
    explicit Session(tcp::socket socket) : ws(std::move(socket)) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::vector<messages::Message> received;
    std::deque<std::vector<std::uint8_t>> outgoing;
  };

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
      if (error) return;
      auto session = std::make_shared<Session>(std::move(socket));
      session->ws.binary(true);
      sessions_.push_back(session);
      session->ws.async_accept([this, session](const boost::system::error_code& error) {
        if (!error) read(session);
      });
      accept();
    });
  }
  void read(const std::shared_ptr<Session>& session) {
    session->ws.async_read(session->buffer,
                           [this, session](const boost::system::error_code& error, std::size_t) {
                             if (error) return;
                             const auto data = session->buffer.cdata();
                             auto decoded = messages::decode(std::span<const std::uint8_t>(
                                 static_cast<const std::uint8_t*>(data.data()), data.size()));
                             session->buffer.consume(session->buffer.size());
                             EXPECT_TRUE(decoded) << "the client sent an undecodable frame";
                             if (decoded) session->received.push_back(std::move(*decoded));
                             read(session);
                           });
  }
  void write(const std::shared_ptr<Session>& session) {
    session->ws.async_write(asio::buffer(session->outgoing.front()),
                            [this, session](const boost::system::error_code& error, std::size_t) {
                              if (error) return;
                              session->outgoing.pop_front();
                              if (!session->outgoing.empty()) write(session);
                            });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> sessions_;
};

}  // namespace nextmini::dataplane::test_support
