#pragma once
// TunDevice: the node's TUN interface (DESIGN.md §2, "TUN read" and "TUN write").
//   Opens /dev/net/tun with IFF_TUN | IFF_NO_PI (one raw IP packet per read/write), non-blocking,
//   in the calling thread's network namespace; configure() sets its IPv4 address, prefix and MTU
//   and brings it up.
//   Input (reader): start(on_batch) waits for readability on the io_context, then reads packets
//   into pool Packets until EAGAIN or a full PacketBatch and hands the batch to on_batch (the
//   Processor's process_local). With the pool exhausted the packet is read and dropped.
//   Output (PacketSink): send(batch) writes each packet; on EAGAIN it queues up to
//   write_queue_limit packets and flushes them when the descriptor is writable, beyond that it
//   drops with kQueueFull.
//   Knobs: name (default "utun"), write_queue_limit. Counters: counters() — rx/tx packets and
//   bytes, read and write errors, drops by reason.
//   Thread: the io_context's thread. close() before destroying; destroy only after the
//   io_context has run the cancelled handlers (Node::run does this).

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/io/interface_config.hpp"
#include "nextmini/dataplane/io/unique_fd.hpp"

namespace nextmini::dataplane {

struct TunCounters {
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t read_errors = 0;
  std::uint64_t write_errors = 0;
  DropCounters drops;
};

class TunDevice final : public PacketSink {
 public:
  static constexpr const char* kDefaultName = "utun";
  static constexpr std::size_t kDefaultWriteQueueLimit = 256;
  using BatchHandler = std::function<void(PacketBatch&)>;

  // Creates the TUN interface `name`. Errors: "io.tun" with the reason and a hint.
  static Result<std::unique_ptr<TunDevice>> open(boost::asio::io_context& io, PacketPool& pool,
                                                 const std::string& name = kDefaultName);

  // Wraps an open packet descriptor (made non-blocking here); tests pass a SOCK_SEQPACKET end.
  TunDevice(boost::asio::io_context& io, PacketPool& pool, UniqueFd fd, std::string name,
            std::size_t write_queue_limit = kDefaultWriteQueueLimit);
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice() override;

  const std::string& name() const noexcept { return name_; }
  // Address, prefix and MTU, then up (interface_config.hpp).
  Result<void> configure(const InterfaceSettings& settings) const;

  // Starts the reader; each batch read is passed to on_batch (which takes what it wants; what is
  // left in the batch is released afterwards).
  void start(BatchHandler on_batch);
  void send(PacketBatch& batch) override;
  // Stops reading and writing, releases queued packets and closes the descriptor. Idempotent.
  void close();

  bool is_open() const noexcept { return !closed_; }
  std::size_t write_queue_size() const noexcept { return queue_count_; }
  const TunCounters& counters() const noexcept { return counters_; }

 private:
  enum class WriteOutcome { kDone, kAgain };

  void wait_readable();
  void read_burst();
  WriteOutcome write_packet(Packet& packet);
  void enqueue(Packet&& packet);
  void wait_writable();
  void flush_queue();

  boost::asio::io_context& io_;
  PacketPool& pool_;
  boost::asio::posix::stream_descriptor descriptor_;
  std::string name_;
  BatchHandler on_batch_;
  PacketBatch rx_batch_;
  std::vector<std::uint8_t> scratch_;  // sink for reads while the pool is exhausted
  std::vector<Packet> queue_;          // ring of queued writes
  std::size_t queue_head_ = 0;
  std::size_t queue_count_ = 0;
  bool write_waiting_ = false;
  bool reading_ = false;
  bool closed_ = false;
  bool logged_read_error_ = false;
  TunCounters counters_;
};

}  // namespace nextmini::dataplane
