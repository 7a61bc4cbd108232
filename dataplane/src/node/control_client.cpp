#include "nextmini/dataplane/node/control_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <charconv>
#include <deque>
#include <vector>

#include "nextmini/messages/codec.hpp"

namespace nextmini::dataplane {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct ControlClient::Session {
  explicit Session(asio::io_context& io) : ws(io) {}
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buffer;
  std::deque<std::vector<std::uint8_t>> queue;
  bool open = false;  // handshake done and not failed
  bool failed = false;
  bool writing = false;
};

Result<ControlClientConfig> ControlClientConfig::from_url(std::string_view url) {
  const std::string shown(url);
  constexpr std::string_view kScheme = "ws://";
  if (url.starts_with("wss://"))
    return fail("control.url", "controller url '" + shown + "': wss:// is not supported yet");
  if (!url.starts_with(kScheme))
    return fail("control.url", "controller url '" + shown + "' must look like ws://HOST:PORT");
  std::string_view rest = url.substr(kScheme.size());
  ControlClientConfig config;
  const auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    config.target = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  std::string_view host = rest;
  config.port = 80;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos)
      return fail("control.url", "controller url '" + shown + "': unterminated [address]");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      return fail("control.url", "controller url '" + shown + "': junk after ]");
    if (!rest.empty())
      rest = rest.substr(1);
    else
      rest = {};
    if (!rest.empty()) {
      unsigned port = 0;
      auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
      if (error != std::errc() || end != rest.data() + rest.size() || port == 0 || port > 65535)
        return fail("control.url", "controller url '" + shown + "': port '" + std::string(rest) +
                                       "' is not 1..65535");
      config.port = static_cast<std::uint16_t>(port);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    const std::string_view port_text = rest.substr(colon + 1);
    unsigned port = 0;
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return fail("control.url", "controller url '" + shown + "': port '" + std::string(port_text) +
                                     "' is not 1..65535");
    config.port = static_cast<std::uint16_t>(port);
  }
  if (host.empty()) return fail("control.url", "controller url '" + shown + "' has no host");
  config.host = std::string(host);
  return config;
}

ControlClient::ControlClient(asio::io_context& io, ControlClientConfig config,
                             MessageHandler on_message, StateHandler on_state)
    : io_(io),
      config_(std::move(config)),
      on_message_(std::move(on_message)),
      on_state_(std::move(on_state)),
      resolver_(io),
      reconnect_timer_(io),
      backoff_(config_.backoff) {}

ControlClient::~ControlClient() { close(); }

bool ControlClient::connected() const noexcept { return session_ && session_->open; }

void ControlClient::start() {
  if (started_ || stopped_) return;
  started_ = true;
  connect();
}

void ControlClient::connect() {
  if (stopped_) return;
  auto session = std::make_shared<Session>(io_);
  session_ = session;
  resolver_.async_resolve(
      config_.host, std::to_string(config_.port),
      [this, session](const boost::system::error_code& error, tcp::resolver::results_type results) {
        if (session->failed || stopped_) return;
        if (error) return drop_session(session, "resolve", error);
        auto& stream = beast::get_lowest_layer(session->ws);
        stream.expires_after(config_.connect_timeout);
        stream.async_connect(
            results, [this, session](const boost::system::error_code& error, const tcp::endpoint&) {
              if (session->failed || stopped_) return;
              if (error) return drop_session(session, "connect", error);
              auto& stream = beast::get_lowest_layer(session->ws);
              stream.expires_never();
              boost::system::error_code ignored;
              stream.socket().set_option(tcp::no_delay(true), ignored);
              websocket::stream_base::timeout timeouts{};
              timeouts.handshake_timeout = config_.connect_timeout;
              timeouts.idle_timeout = config_.idle_timeout;
              timeouts.keep_alive_pings = true;
              session->ws.set_option(timeouts);
              session->ws.binary(true);
              session->ws.read_message_max(64 * 1024 * 1024);
              const std::string host = config_.host + ":" + std::to_string(config_.port);
              session->ws.async_handshake(host, config_.target,
                                          [this, session](const boost::system::error_code& error) {
                                            if (session->failed || stopped_) return;
                                            if (error)
                                              return drop_session(session, "handshake", error);
                                            on_open(session);
                                          });
            });
      });
}

void ControlClient::on_open(const SessionPtr& session) {
  session->open = true;
  ++counters_.connects;
  backoff_.reset();
  if (logged_connect_error_)
    spdlog::info("controller {}:{}: connected", config_.host, config_.port);
  logged_connect_error_ = false;
  enqueue(session, startup_);
  read_next(session);
  if (on_state_) on_state_(true);
}

void ControlClient::drop_session(const SessionPtr& session, std::string_view what,
                                 const boost::system::error_code& error) {
  if (session->failed) return;
  const bool was_open = session->open;
  session->failed = true;
  session->open = false;
  // A frame being written stays alive until its (cancelled) write completes.
  const std::size_t keep = session->writing ? 1 : 0;
  counters_.dropped_sends += session->queue.size() - keep;
  session->queue.resize(keep);
  boost::system::error_code ignored;
  beast::get_lowest_layer(session->ws).socket().close(ignored);
  if (session_ == session) session_.reset();
  if (stopped_) return;
  if (was_open) {
    ++counters_.disconnects;
    spdlog::warn("controller {}:{}: connection lost ({}: {}); reconnecting", config_.host,
                 config_.port, what, error.message());
  } else if (!logged_connect_error_) {
    logged_connect_error_ = true;
    spdlog::warn("controller {}:{}: {} failed: {}; retrying with backoff", config_.host,
                 config_.port, what, error.message());
  }
  if (was_open && on_state_) on_state_(false);
  schedule_reconnect();
}

void ControlClient::schedule_reconnect() {
  if (stopped_) return;
  reconnect_timer_.expires_after(backoff_.next());
  reconnect_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error && !stopped_ && !session_) connect();
  });
}

void ControlClient::send(const messages::Message& message) {
  if (!connected()) {
    ++counters_.dropped_sends;
    return;
  }
  enqueue(session_, message);
}

void ControlClient::enqueue(const SessionPtr& session, const messages::Message& message) {
  if (session->queue.size() >= config_.send_queue_limit) {
    ++counters_.dropped_sends;
    return;
  }
  session->queue.push_back(messages::encode(message));
  if (!session->writing) write_next(session);
}

void ControlClient::write_next(const SessionPtr& session) {
  if (session->queue.empty() || session->failed) return;
  session->writing = true;
  const auto& frame = session->queue.front();
  session->ws.async_write(asio::buffer(frame),
                          [this, session](const boost::system::error_code& error, std::size_t) {
                            session->writing = false;
                            if (session->failed || stopped_) return;
                            if (error) return drop_session(session, "write", error);
                            ++counters_.sent;
                            session->queue.pop_front();
                            write_next(session);
                          });
}

void ControlClient::read_next(const SessionPtr& session) {
  session->ws.async_read(session->buffer,
                         [this, session](const boost::system::error_code& error, std::size_t) {
                           if (session->failed || stopped_) return;
                           if (error) return drop_session(session, "read", error);
                           handle_frame(session);
                           if (!session->failed && !stopped_) read_next(session);
                         });
}

void ControlClient::handle_frame(const SessionPtr& session) {
  const auto data = session->buffer.cdata();
  auto decoded = messages::decode(
      std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data.data()), data.size()));
  session->buffer.consume(session->buffer.size());
  if (!decoded) {
    const Error& error = decoded.error();
    ++counters_.undecodable;
    ++counters_.undecodable_by_code[error.code];
    if (logged_codes_.insert(error.code).second)
      spdlog::warn("controller sent a message this node cannot decode ({}: {}); ignoring it{}",
                   error.code, error.message, " (further ones of this kind are counted only)");
    enqueue(session, messages::ErrorMessage{error.code, error.message, ""});
    return;
  }
  ++counters_.received;
  if (on_message_) on_message_(*decoded);
}

void ControlClient::close() {
  if (stopped_) return;
  stopped_ = true;
  reconnect_timer_.cancel();
  resolver_.cancel();
  if (session_) {
    SessionPtr session = std::move(session_);
    session->failed = true;
    session->open = false;
    session->queue.resize(session->writing ? 1 : 0);
    boost::system::error_code ignored;
    beast::get_lowest_layer(session->ws).socket().close(ignored);
  }
}

}  // namespace nextmini::dataplane
