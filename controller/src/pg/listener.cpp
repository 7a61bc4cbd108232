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
}

void Listener::connect() {
  auto opened = Connection::open(url_);
  if (!opened) {
    lose(std::move(opened).error());
    return;
  }
  connection_ = std::move(*opened);
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
