#include "nextmini/controller/pg/listener.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace nextmini::controller::pg {

Listener::Listener(boost::asio::any_io_executor executor, std::string url,
                   std::vector<std::string> channels, ListenerHandlers handlers,
                   BackoffConfig backoff)
    : executor_(std::move(executor)),
      url_(std::move(url)),
      channels_(std::move(channels)),
      handlers_(std::move(handlers)),
      backoff_(backoff),
      retry_timer_(executor_) {}

Listener::~Listener() { stop(); }

void Listener::start() {
  if (!stopped_) return;
  stopped_ = false;
  connect();
}

void Listener::stop() {
  stopped_ = true;
  token_ = std::make_shared<bool>(true);  // pending handlers see their token expired
  retry_timer_.cancel();
  socket_.reset();  // cancels the wait and closes our dup of the socket
  connection_ = Connection();
  listening_ = false;
}

void Listener::connect() {
  auto started = Connection::start_connect(url_);
  if (!started) {
    lose(std::move(started).error());
    return;
  }
  connection_ = std::move(*started);
  // A connection attempt that hangs (a server that does not answer) is abandoned.
  std::weak_ptr<bool> token = token_;
  retry_timer_.expires_after(std::chrono::seconds(Connection::kConnectTimeoutS));
  retry_timer_.async_wait([this, token](const boost::system::error_code& error) {
    if (token.expired() || !alive() || error || connected()) return;
    lose({"pg.connect", fmt::format("connecting to {} timed out after {} s", redact_url(url_),
                                    Connection::kConnectTimeoutS)});
  });
  wait_for_connect(Connection::ConnectStep::wait_writable);
}

void Listener::wait_for_connect(Connection::ConnectStep step) {
  // libpq may change sockets between steps (several hosts, SSL retry): take it afresh.
  const int fd = ::dup(connection_.socket());
  if (fd < 0) {
    lose({"pg.connect", fmt::format("dup of the PostgreSQL socket failed: errno {}", errno)});
    return;
  }
  socket_.emplace(executor_, fd);
  const auto wait = step == Connection::ConnectStep::wait_readable
                        ? boost::asio::posix::stream_descriptor::wait_read
                        : boost::asio::posix::stream_descriptor::wait_write;
  std::weak_ptr<bool> token = token_;
  socket_->async_wait(wait, [this, token](const boost::system::error_code& error) {
    if (token.expired() || !alive() || error || !socket_) return;
    switch (const auto next = connection_.poll_connect()) {
      case Connection::ConnectStep::ok:
        listen();
        return;
      case Connection::ConnectStep::failed:
        lose(connection_.connect_error(url_));
        return;
      default:
        wait_for_connect(next);
        return;
    }
  });
}

void Listener::listen() {
  retry_timer_.cancel();
  for (const auto& channel : channels_) {
    auto listening = connection_.exec_script("LISTEN " + connection_.quote_identifier(channel));
    if (!listening) {
      lose(std::move(listening).error());
      return;
    }
  }
  const int fd = ::dup(connection_.socket());
  if (fd < 0) {
    lose({"pg.connect", fmt::format("dup of the PostgreSQL socket failed: errno {}", errno)});
    return;
  }
  socket_.emplace(executor_, fd);
  listening_ = true;
  ++connects_;
  backoff_.reset();
  reported_loss_ = false;
  wait_readable();
  if (handlers_.on_connected) {
    std::weak_ptr<bool> token = token_;
    handlers_.on_connected();
    if (token.expired() || !alive()) return;
  }
  // A notification may have arrived while LISTEN ran or on_connected queried; read it now.
  on_readable();
}

void Listener::wait_readable() {
  std::weak_ptr<bool> token = token_;
  socket_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this, token](const boost::system::error_code& error) {
                        if (token.expired() || !alive() || error || !socket_) return;
                        // Re-arm before reading: bytes that arrive after this point wake the
                        // new wait, bytes that arrived before it are read below (no lost edge).
                        wait_readable();
                        on_readable();
                      });
}

void Listener::on_readable() {
  PGconn* conn = connection_.raw();
  if (conn == nullptr) return;
  if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
    std::string reason = PQerrorMessage(conn);
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    lose({"pg.connection_lost", fmt::format("listener lost PostgreSQL: {}", reason)});
    return;
  }
  std::weak_ptr<bool> token = token_;
  while (PGnotify* notify = PQnotifies(conn)) {
    Notification notification{notify->relname, notify->extra, notify->be_pid};
    PQfreemem(notify);
    ++notifications_;
    if (handlers_.on_notify) handlers_.on_notify(notification);
    if (token.expired() || !alive()) return;
  }
}

void Listener::lose(Error error) {
  listening_ = false;
  retry_timer_.cancel();
  socket_.reset();
  connection_ = Connection();
  if (!reported_loss_) {
    reported_loss_ = true;
    ++losses_;
    spdlog::warn("postgresql listener: {}", error.message);
    std::weak_ptr<bool> token = token_;
    if (handlers_.on_lost) handlers_.on_lost(error);
    if (token.expired() || !alive()) return;
  } else {
    spdlog::debug("postgresql listener: still down: {}", error.message);
  }
  retry_later();
}

void Listener::retry_later() {
  retry_timer_.expires_after(backoff_.next());
  std::weak_ptr<bool> token = token_;
  retry_timer_.async_wait([this, token](const boost::system::error_code& error) {
    if (token.expired() || !alive() || error) return;
    connect();
  });
}

}  // namespace nextmini::controller::pg
