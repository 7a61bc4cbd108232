#pragma once
// TunDevice: the node's TUN interface (DESIGN.md §2, "TUN read" and "TUN write").
//   open() creates it with IFF_TUN | IFF_NO_PI | IFF_VNET_HDR (without IFF_VNET_HDR if the kernel
//   refuses), non-blocking, in the calling thread's network namespace; configure() sets its IPv4
//   address, prefix and MTU and brings it up.
//   Offloads (probe_tun_offloads, logged once per device): with a virtio_net_hdr before every
//   packet, TUNSETOFFLOAD asks for the widest set the kernel takes — checksum, TSO4/6 (+ECN),
//   USO4/6 — then fewer; TSO/USO only when a large pool is given (GSO super-packets of up to
//   64 KB). A descriptor that is no TUN (a test's socketpair) or has no vnet header: plain mode,
//   one raw IP packet per read/write, as before.
//   Multi-queue (open_queues, one queue per node worker): the same interface opened N times with
//   IFF_MULTI_QUEUE, one TunDevice per queue, each on its worker's io_context and pools. A
//   steering eBPF program (tun_steering.hpp) puts every packet of a flow, and of its answers, on
//   queue tun_steering_queue(packet, N) for as long as the flow lives, so a flow is read by one
//   worker. When the program cannot be loaded or attached (warned once), the kernel steers by
//   itself (a flow's hash until the node writes one of its packets, then the queue it was written
//   on). The start log names the steering. One queue: exactly open(), no program.
//   Input (reader): start(on_batch) waits for readability on the io_context, then reads packets
//   until EAGAIN or a full PacketBatch and hands the batch to on_batch (the Processor's
//   process_local). A read scatters into a small pool buffer and, past its room, a large pool
//   buffer (the small part is then copied in front): small packets stay in small buffers. The
//   vnet header fills PacketMeta's offload fields (gso_*, needs_csum, csum_*); a malformed one
//   is counted (bad_vnet_headers) and the packet dropped with kBadOffload. With the pool
//   exhausted the packet is read and dropped.
//   Output (PacketSink): send(batch) writes each packet (vnet mode: with a header built from its
//   meta, so super-packets and partial checksums go to the kernel whole). In plain mode, or when
//   the kernel rejects an offload, super-packets are segmented (GsoSegmenter, into the small
//   pool) and partial checksums completed in software first. In vnet mode with a large pool,
//   runs of plain TCP segments of one flow in a batch are merged first (GroCoalescer). On EAGAIN it
//   queues up to write_queue_limit packets and flushes them when the descriptor is writable, beyond
//   that it drops with kQueueFull. Knobs: name (default "utun"), write_queue_limit, large pool.
//   Counters: counters() — rx/tx packets and bytes, super-packets read/written, software
//   segmentations and checksum completions, bad vnet headers, read and write errors, drops by
//   reason. Thread: the io_context's thread. close() before destroying; destroy only after the
//   io_context has run the cancelled handlers (Node::run does this).

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/gro.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/io/interface_config.hpp"
#include "nextmini/dataplane/io/unique_fd.hpp"

namespace nextmini::dataplane {

// What the TUN device and the kernel agreed on (probe_tun_offloads).
struct TunOffloads {
  bool vnet_header = false;  // IFF_VNET_HDR: a virtio_net_hdr precedes every read and write
  bool csum = false;         // TUN_F_CSUM: reads may carry partial checksums (NEEDS_CSUM)
  bool tso4 = false;
  bool tso6 = false;
  bool tso_ecn = false;
  bool uso = false;  // TUN_F_USO4 | TUN_F_USO6
  bool gso() const noexcept { return tso4 || tso6 || uso; }
  // "vnet header, csum, tso4, tso6, tso_ecn, uso" or "none (plain packets)".
  std::string describe() const;
};

// Reads the descriptor's TUN flags (TUNGETIFF) and, with a vnet header, sets the widest offload
// set the kernel accepts (TSO/USO only if `want_gso`). Not a TUN: plain mode (all false).
TunOffloads probe_tun_offloads(int fd, bool want_gso) noexcept;

struct TunCounters {
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_bursts = 0;  // runs of the read loop (a wake-up, or a full batch's re-post)
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t read_errors = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t rx_super_packets = 0;     // reads carrying GSO metadata
  std::uint64_t tx_super_packets = 0;     // super-packets written whole
  std::uint64_t segmented = 0;            // super-packets cut in software before the write
  std::uint64_t checksums_completed = 0;  // partial checksums completed in software
  std::uint64_t coalesced = 0;            // plain TCP segments merged into super-packets (GRO)
  std::uint64_t bad_vnet_headers = 0;
  DropCounters drops;
};

class TunDevice final : public PacketSink {
 public:
  static constexpr const char* kDefaultName = "utun";
  static constexpr std::size_t kDefaultWriteQueueLimit = 256;
  using BatchHandler = std::function<void(PacketBatch&)>;

  // Creates the TUN interface `name`. Errors: "io.tun" with the reason and a hint.
  // `large_pool` (buffers of at least 64 KB + headroom) enables TSO/USO reads; without it the
  // device asks for checksum offload only. offloads = false: no vnet header (plain packets).
  static Result<std::unique_ptr<TunDevice>> open(boost::asio::io_context& io, PacketPool& pool,
                                                 const std::string& name = kDefaultName,
                                                 PacketPool* large_pool = nullptr,
                                                 bool offloads = true);

  // What one queue of a multi-queue TUN runs on (its worker's io_context and pools).
  struct QueueContext {
    boost::asio::io_context* io = nullptr;
    PacketPool* pool = nullptr;
    PacketPool* large_pool = nullptr;  // as open()'s `large_pool`
  };
  // Opens `name` with one queue per context (IFF_MULTI_QUEUE when more than one; one context is
  // open()); queue k is the k-th context. flow_steering: attach the steering program (false:
  // leave the kernel's automatic steering, for tests and comparisons). Errors: as open(), and
  // "io.tun" naming IFF_MULTI_QUEUE when the kernel refuses it; no steering program is no error.
  static Result<std::vector<std::unique_ptr<TunDevice>>> open_queues(
      const std::vector<QueueContext>& queues, const std::string& name = kDefaultName,
      bool offloads = true, bool flow_steering = true);

  // Wraps an open packet descriptor (made non-blocking here); tests pass a SOCK_SEQPACKET end.
  // `offloads`: what the descriptor does; probed (probe_tun_offloads) when not given.
  TunDevice(boost::asio::io_context& io, PacketPool& pool, UniqueFd fd, std::string name,
            std::size_t write_queue_limit = kDefaultWriteQueueLimit,
            PacketPool* large_pool = nullptr, std::optional<TunOffloads> offloads = std::nullopt);
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
  const TunOffloads& offloads() const noexcept { return offloads_; }

 private:
  enum class WriteOutcome { kDone, kAgain, kRejected };

  void wait_readable();
  void read_burst();
  // One read into spare_ / spare_large_ (or scratch); a packet for the batch, or an invalid one.
  // `drained`/`stop` report EAGAIN or an error / end of file.
  Packet read_one(bool& drained);
  void submit(Packet&& packet);
  void write_in_software(Packet& packet);
  WriteOutcome write_packet(Packet& packet);
  void enqueue(Packet&& packet);
  void wait_writable();
  void flush_queue();

  boost::asio::io_context& io_;
  PacketPool& pool_;
  PacketPool* large_pool_;
  TunOffloads offloads_;
  boost::asio::posix::stream_descriptor descriptor_;
  std::string name_;
  BatchHandler on_batch_;
  PacketBatch rx_batch_;
  Packet spare_;                       // small buffer for the next read
  Packet spare_large_;                 // large buffer for the next read (GSO reads only)
  std::optional<GroCoalescer> gro_;    // vnet mode with a large pool
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
