#include "nextmini/dataplane/flow/flow_runner.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "nextmini/dataplane/transport/backoff.hpp"

namespace nextmini::dataplane {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::array<std::uint8_t, 4> kMagic = {'N', 'M', 'F', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 16;
constexpr std::size_t kSinkBufferSize = 64 * 1024;
constexpr int kUnsentLowWater = 128 * 1024;

std::uint64_t wall_clock_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void put_u64(std::uint8_t* out, std::uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(value & 0xff);
    value >>= 8;
  }
}

std::uint64_t get_u64(const std::uint8_t* in) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | in[i];
  return value;
}

std::array<std::uint8_t, kHeaderSize> encode_header(messages::FlowId id) {
  std::array<std::uint8_t, kHeaderSize> header{};
  std::copy(kMagic.begin(), kMagic.end(), header.begin());
  header[4] = header[5] = header[6] = 0;
  header[7] = static_cast<std::uint8_t>(kVersion);
  put_u64(header.data() + 8, id);
  return header;
}

}  // namespace

FlowKey tcp_flow_key(const tcp::endpoint& local, const tcp::endpoint& remote) {
  FlowKey key;
  if (!local.address().is_v4() || !remote.address().is_v4()) return key;  // IPv4 only
  const auto src = local.address().to_v4().to_bytes();
  const auto dst = remote.address().to_v4().to_bytes();
  std::copy(src.begin(), src.end(), key.src_address.begin());
  std::copy(dst.begin(), dst.end(), key.dst_address.begin());
  key.src_port = local.port();
  key.dst_port = remote.port();
  key.protocol = 6;  // TCP
  key.ip_version = 4;
  return key;
}

messages::FlowFinished flow_not_started(const messages::FlowSpec& spec, messages::NodeId self,
                                        std::string reason) {
  const std::uint64_t now = wall_clock_ns();
  return messages::FlowFinished{spec.flow_id, self, now, now, 0, std::move(reason)};
}

// One flow this node sends. Every handler holds a shared_ptr to it, so it lives until the last
// one has run; the runner only drops its own reference when the flow is done.
class FlowRunner::Source : public std::enable_shared_from_this<FlowRunner::Source> {
 public:
  Source(FlowRunner& runner, messages::FlowSpec spec, tcp::endpoint local, tcp::endpoint remote)
      : runner_(runner),
        spec_(std::move(spec)),
        local_(local),
        remote_(remote),
        socket_(runner.io_),
        timer_(runner.io_),
        backoff_({runner.config_.connect_backoff, std::chrono::milliseconds(2000)}),
        header_(encode_header(spec_.flow_id)) {
    chunk_ = runner.config_.max_chunk_bytes;
    if (spec_.rate_bytes_per_s) {
      // 10 ms worth at the flow's rate: small enough to pace smoothly, large enough to be cheap.
      chunk_ = std::clamp<std::size_t>(*spec_.rate_bytes_per_s / 100, 1, chunk_);
    }
  }

  void connect() {
    if (done_) return;
    ++attempts_;
    boost::system::error_code error;
    socket_ = tcp::socket(runner_.io_);
    socket_.open(remote_.protocol(), error);
    if (!error) socket_.bind(local_, error);
    if (!error) limit_unsent();
    tcp::endpoint bound;
    if (!error) bound = socket_.local_endpoint(error);
    if (error)
      return fail(
          fmt::format("cannot bind to {}: {}", local_.address().to_string(), error.message()));
    if (runner_.prepare_) runner_.prepare_(spec_, bound, remote_);
    socket_.async_connect(remote_, [self = shared_from_this()](boost::system::error_code error) {
      self->on_connect(error);
    });
  }

  void cancel() {
    done_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

 private:
  // At most kUnsentLowWater bytes wait unsent in the kernel (TCP_NOTSENT_LOWAT; the window in
  // flight is not limited): a duration flow stops putting data on the wire when it stops
  // writing, instead of draining megabytes of socket buffer after its deadline.
  void limit_unsent() {
    const int low_water = kUnsentLowWater;
    if (::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &low_water,
                     sizeof(low_water)) != 0) {
      spdlog::debug("flow {}: TCP_NOTSENT_LOWAT not set: {}", spec_.flow_id, std::strerror(errno));
    }
  }

  void on_connect(boost::system::error_code error) {
    if (done_) return;
    if (error) {
      if (attempts_ >= runner_.config_.connect_attempts) {
        return fail(fmt::format("cannot connect to {}:{} after {} attempts: {}",
                                remote_.address().to_string(), remote_.port(), attempts_,
                                error.message()));
      }
      ++runner_.counters_.connect_retries;
      boost::system::error_code ignored;
      socket_.close(ignored);
      timer_.expires_after(backoff_.next());
      timer_.async_wait([self = shared_from_this()](boost::system::error_code error) {
        if (!error) self->connect();
      });
      return;
    }
    start_ns_ = wall_clock_ns();
    started_ = Clock::now();
    if (spec_.duration_s) {
      deadline_ = started_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(*spec_.duration_s));
    }
    ++runner_.counters_.flows_started;
    spdlog::info("flow {}: connected {} -> {}:{}", spec_.flow_id,
                 socket_.local_endpoint(error).address().to_string(), remote_.address().to_string(),
                 remote_.port());
    runner_.report_(messages::UserFlowStart{spec_.flow_id, runner_.config_.self, start_ns_});
    asio::async_write(socket_, asio::buffer(header_),
                      [self = shared_from_this()](boost::system::error_code error, std::size_t) {
                        if (self->done_) return;
                        if (error) return self->fail("sending the header: " + error.message());
                        self->send_more();
                      });
  }

  // Sends the next chunk, waits for tokens, or ends the flow.
  void send_more() {
    if (done_) return;
    const auto now = Clock::now();
    std::size_t size = chunk_;
    if (spec_.length_bytes) {
      const std::uint64_t remaining = *spec_.length_bytes - sent_;
      if (remaining == 0) return finish_sending();
      size = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, chunk_));
    } else if (now >= deadline_) {
      return finish_sending();
    }
    if (spec_.rate_bytes_per_s) {
      // Token bucket: chunk_ bytes of burst plus rate * elapsed.
      const double rate = static_cast<double>(*spec_.rate_bytes_per_s);
      const double elapsed = std::chrono::duration<double>(now - started_).count();
      const double ready_at = (static_cast<double>(sent_ + size) - chunk_) / rate;
      if (ready_at > elapsed) {
        auto wake = started_ + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(ready_at));
        if (spec_.duration_s) wake = std::min(wake, deadline_);
        timer_.expires_at(wake);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code error) {
          if (!error) self->send_more();
        });
        return;
      }
    }
    socket_.async_write_some(
        asio::buffer(runner_.zeros_.data(), size),
        [self = shared_from_this()](boost::system::error_code error, std::size_t written) {
          if (self->done_) return;
          self->sent_ += written;
          self->runner_.counters_.bytes_sent += written;
          if (error) {
            return self->fail(
                fmt::format("send failed after {} bytes: {}", self->sent_, error.message()));
          }
          self->send_more();
        });
  }

  void finish_sending() {
    boost::system::error_code error;
    socket_.shutdown(tcp::socket::shutdown_send, error);
    if (error) return fail("shutdown: " + error.message());
    timer_.expires_after(runner_.config_.confirm_timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code error) {
      if (error || self->done_) return;
      self->fail(fmt::format("no byte count from the sink within {} ms",
                             self->runner_.config_.confirm_timeout.count()));
    });
    asio::async_read(socket_, asio::buffer(count_),
                     [self = shared_from_this()](boost::system::error_code error, std::size_t) {
                       if (self->done_) return;
                       if (error)
                         return self->fail("no byte count from the sink: " + error.message());
                       self->confirmed(get_u64(self->count_.data()));
                     });
  }

  void confirmed(std::uint64_t received) {
    confirmed_ = received;
    if (received < sent_) {
      return fail(fmt::format("the sink confirmed {} of {} bytes", received, sent_));
    }
    end(messages::FlowFinished{spec_.flow_id, runner_.config_.self, start_ns_, wall_clock_ns(),
                               received, ""});
  }

  void fail(std::string reason) {
    const std::uint64_t bytes = confirmed_ ? *confirmed_ : sent_;
    const std::uint64_t now = wall_clock_ns();
    // A flow that never connected starts and ends now.
    end(messages::FlowFinished{spec_.flow_id, runner_.config_.self, start_ns_ ? start_ns_ : now,
                               now, bytes, std::move(reason)});
  }

  void end(messages::FlowFinished report) {
    if (done_) return;
    cancel();
    runner_.finished(spec_.flow_id, std::move(report));
  }

  FlowRunner& runner_;
  messages::FlowSpec spec_;
  tcp::endpoint local_;
  tcp::endpoint remote_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  Backoff backoff_;
  std::array<std::uint8_t, kHeaderSize> header_;
  std::array<std::uint8_t, 8> count_{};
  std::size_t chunk_ = 0;
  unsigned attempts_ = 0;
  std::uint64_t sent_ = 0;
  std::optional<std::uint64_t> confirmed_;
  std::uint64_t start_ns_ = 0;
  Clock::time_point started_;
  Clock::time_point deadline_;
  bool done_ = false;
};

// One accepted flow connection: header, payload counted and discarded, the count sent back.
class FlowRunner::SinkConnection : public std::enable_shared_from_this<FlowRunner::SinkConnection> {
 public:
  SinkConnection(FlowRunner& runner, std::uint64_t id, tcp::socket socket)
      : runner_(runner), id_(id), socket_(std::move(socket)), buffer_(kSinkBufferSize) {}

  void start() {
    asio::async_read(socket_, asio::buffer(header_),
                     [self = shared_from_this()](boost::system::error_code error, std::size_t) {
                       self->on_header(error);
                     });
  }

  void cancel() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void on_header(boost::system::error_code error) {
    if (runner_.closed_) return;
    const bool magic = std::equal(kMagic.begin(), kMagic.end(), header_.begin());
    if (error || !magic || header_[7] != kVersion) {
      ++runner_.counters_.sink_bad_headers;
      spdlog::warn("flow sink: connection without a valid flow header ({}); closed",
                   error ? error.message() : "wrong bytes");
      return remove();
    }
    flow_id_ = get_u64(header_.data() + 8);
    read_more();
  }

  void read_more() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](boost::system::error_code error, std::size_t n) {
          if (self->runner_.closed_) return;
          self->received_ += n;
          self->runner_.counters_.sink_bytes += n;
          if (error == asio::error::eof) return self->answer();
          if (error) {
            spdlog::warn("flow {}: sink read failed after {} bytes: {}", self->flow_id_,
                         self->received_, error.message());
            return self->remove();
          }
          self->read_more();
        });
  }

  void answer() {
    put_u64(count_.data(), received_);
    spdlog::debug("flow {}: sink received {} bytes", flow_id_, received_);
    asio::async_write(
        socket_, asio::buffer(count_),
        [self = shared_from_this()](boost::system::error_code, std::size_t) { self->remove(); });
  }

  void remove() {
    cancel();
    runner_.sinks_.erase(id_);
  }

  FlowRunner& runner_;
  std::uint64_t id_;
  tcp::socket socket_;
  std::array<std::uint8_t, kHeaderSize> header_{};
  std::array<std::uint8_t, 8> count_{};
  std::vector<std::uint8_t> buffer_;
  messages::FlowId flow_id_ = 0;
  std::uint64_t received_ = 0;
};

FlowRunner::FlowRunner(asio::io_context& io, FlowRunnerConfig config, Report report,
                       Prepare prepare)
    : io_(io),
      config_(config),
      report_(std::move(report)),
      prepare_(std::move(prepare)),
      acceptor_(io),
      zeros_(std::max<std::size_t>(config.max_chunk_bytes, 1), 0) {
  config_.max_chunk_bytes = zeros_.size();
  config_.connect_attempts = std::max(config_.connect_attempts, 1u);
}

FlowRunner::~FlowRunner() { close(); }

Result<void> FlowRunner::listen(const std::string& address) {
  boost::system::error_code error;
  const auto ip = asio::ip::make_address(address, error);
  if (error) {
    return fail("flow.listen", fmt::format("flow sink: \"{}\" is not an IP address", address));
  }
  const tcp::endpoint endpoint(ip, config_.sink_port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return fail("flow.listen", fmt::format("flow sink: cannot listen on {}:{}: {}", address,
                                           config_.sink_port, error.message()));
  }
  sink_port_ = acceptor_.local_endpoint().port();
  accept_next();
  return ok();
}

void FlowRunner::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
    if (closed_ || error == asio::error::operation_aborted) return;
    if (!error) {
      ++counters_.sink_connections;
      const std::uint64_t id = next_sink_++;
      auto connection = std::make_shared<SinkConnection>(*this, id, std::move(socket));
      sinks_[id] = connection;
      connection->start();
    } else {
      spdlog::warn("flow sink: accept failed: {}", error.message());
    }
    accept_next();
  });
}

void FlowRunner::start(const messages::FlowSpec& spec, const std::string& local_address,
                       const std::string& remote_address, std::uint16_t remote_port) {
  if (closed_) return;
  if (sources_.contains(spec.flow_id)) {
    spdlog::warn("flow {}: already running; AddFlows ignored", spec.flow_id);
    return;
  }
  boost::system::error_code error;
  const auto remote = asio::ip::make_address(remote_address, error);
  asio::ip::address local = asio::ip::address_v4::any();
  if (!error && !local_address.empty()) local = asio::ip::make_address(local_address, error);
  if (error || (!spec.length_bytes && !spec.duration_s)) {
    ++counters_.flows_failed;
    const std::string reason = error ? fmt::format("bad address (local \"{}\", remote \"{}\")",
                                                   local_address, remote_address)
                                     : std::string("neither a length nor a duration");
    spdlog::warn("flow {}: {}", spec.flow_id, reason);
    report_(flow_not_started(spec, config_.self, reason));
    return;
  }
  auto source = std::make_shared<Source>(*this, spec, tcp::endpoint(local, 0),
                                         tcp::endpoint(remote, remote_port));
  sources_[spec.flow_id] = source;
  source->connect();
}

void FlowRunner::finished(messages::FlowId id, messages::FlowFinished report) {
  if (report.error.empty()) {
    ++counters_.flows_finished;
  } else {
    ++counters_.flows_failed;
    spdlog::warn("flow {}: failed: {}", id, report.error);
  }
  sources_.erase(id);  // the Source lives on until its last handler has run
  report_(std::move(report));
}

void FlowRunner::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, source] : sources_) source->cancel();
  for (auto& [id, sink] : sinks_) sink->cancel();
  sources_.clear();
  sinks_.clear();
}

}  // namespace nextmini::dataplane
