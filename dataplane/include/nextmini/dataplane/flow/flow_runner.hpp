#pragma once
// FlowRunner: runs the controller's flows (AddFlows) of one node as real kernel TCP connections
// between the nodes' TUN addresses, so their packets cross the emulated network.
//   Sink: listen(address) accepts on address:sink_port (the node's TUN address, port 4100 by
//     default). Each connection starts with a 16-byte header — "NMFL", u32 version 1, u64 flow
//     id, big-endian — then payload; the sink reads and discards it, counting bytes, and after
//     the sender's EOF answers with the count (u64, big-endian) and closes.
//   Source: start(spec, local, remote, port) binds a socket to the local (TUN) address, calls
//     the prepare hook with the connection's endpoints (the node pins the route and sets the
//     flow weight there, before the first packet), connects — retrying a refused or failed
//     connect with exponential backoff, connect_attempts times in all —, reports UserFlowStart,
//     sends the header and then spec.length_bytes bytes or for spec.duration_s seconds, paced by
//     a token bucket at spec.rate_bytes_per_s when set (chunks of 10 ms at that rate, 64 KiB at
//     most, the bucket holding one chunk), shuts its side down and waits for the sink's count.
//     TCP_NOTSENT_LOWAT (128 KiB) keeps little unsent data in the kernel, so a duration flow's
//     data stops soon after its deadline (what is in flight still arrives and is counted).
//     It then reports FlowFinished{start = connect time, finish = when the count arrived,
//     bytes = the count}. A failure (no connection after every attempt, a send error, no count
//     within confirm_timeout, a count below what was sent) reports FlowFinished with `error` set
//     and bytes = what the sink confirmed, else what was sent.
//   Times are wall-clock nanoseconds since the Unix epoch (comparable across nodes of a host).
//   Knobs: FlowRunnerConfig. Counters: FlowRunnerCounters.
//   Thread: the io_context's thread (the node's); nothing blocks. No allocation per write: the
//   payload comes from one zero-filled buffer, the sink reads into one buffer per connection.
//   close() cancels every flow (no report) and closes the sink; destroy the runner only after
//   the io_context has run the cancelled handlers.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/flow_key.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

inline constexpr std::uint16_t kDefaultFlowPort = 4100;

struct FlowRunnerConfig {
  messages::NodeId self = 0;                         // node_id of the reports
  std::uint16_t sink_port = kDefaultFlowPort;        // 0: an ephemeral port (tests)
  unsigned connect_attempts = 6;                     // then the flow fails
  std::chrono::milliseconds connect_backoff{100};    // first retry delay; doubles up to 2 s
  std::chrono::milliseconds confirm_timeout{30000};  // last byte sent -> the sink's count
  std::size_t max_chunk_bytes = 64 * 1024;
};

struct FlowRunnerCounters {
  std::uint64_t flows_started = 0;   // connected (UserFlowStart reported)
  std::uint64_t flows_finished = 0;  // confirmed by the sink
  std::uint64_t flows_failed = 0;
  std::uint64_t connect_retries = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t sink_connections = 0;
  std::uint64_t sink_bytes = 0;
  std::uint64_t sink_bad_headers = 0;  // closed: no or a wrong header
};

// The FlowKey of a TCP connection's packets from `local` to `remote` (IPv4), as the Processor
// will classify them (for route pins and flow weights); an empty key unless both are IPv4.
FlowKey tcp_flow_key(const boost::asio::ip::tcp::endpoint& local,
                     const boost::asio::ip::tcp::endpoint& remote);

// The FlowFinished of a flow that could not start (start = finish = now, 0 bytes).
messages::FlowFinished flow_not_started(const messages::FlowSpec& spec, messages::NodeId self,
                                        std::string reason);

class FlowRunner {
 public:
  // UserFlowStart and FlowFinished go here (on the io_context's thread).
  using Report = std::function<void(messages::Message message)>;
  // Called before each connect attempt with the bound local and the remote endpoint.
  using Prepare = std::function<void(const messages::FlowSpec& spec,
                                     const boost::asio::ip::tcp::endpoint& local,
                                     const boost::asio::ip::tcp::endpoint& remote)>;

  FlowRunner(boost::asio::io_context& io, FlowRunnerConfig config, Report report,
             Prepare prepare = {});
  FlowRunner(const FlowRunner&) = delete;
  FlowRunner& operator=(const FlowRunner&) = delete;
  ~FlowRunner();

  // Starts the sink on address:sink_port. Error "flow.listen" naming the address and port.
  Result<void> listen(const std::string& address);
  // The sink's bound port (0 before listen()).
  std::uint16_t sink_port() const noexcept { return sink_port_; }

  // Starts sending `spec` from local_address (empty: any) to remote_address:remote_port.
  // A flow id that is already running is ignored (logged). Bad addresses fail the flow.
  void start(const messages::FlowSpec& spec, const std::string& local_address,
             const std::string& remote_address, std::uint16_t remote_port);

  // Cancels every flow and closes the sink. Idempotent.
  void close();

  std::size_t running() const noexcept { return sources_.size(); }
  const FlowRunnerCounters& counters() const noexcept { return counters_; }

 private:
  class Source;
  class SinkConnection;

  void accept_next();
  void finished(messages::FlowId id, messages::FlowFinished report);

  boost::asio::io_context& io_;
  FlowRunnerConfig config_;
  Report report_;
  Prepare prepare_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t sink_port_ = 0;
  bool closed_ = false;
  std::vector<std::uint8_t> zeros_;  // the payload of every write
  std::map<messages::FlowId, std::shared_ptr<Source>> sources_;
  std::map<std::uint64_t, std::shared_ptr<SinkConnection>> sinks_;
  std::uint64_t next_sink_ = 1;
  FlowRunnerCounters counters_;
};

}  // namespace nextmini::dataplane
