#include "nextmini/dataplane/io/tun_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"
#include "nextmini/dataplane/io/syscalls.hpp"
#include "nextmini/dataplane/io/tun_steering.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::size_t kScratchSize = 65536 + kVirtioNetHeaderSize;
// Since Linux 6.2; Debian 12's headers predate them.
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;

bool would_block(ssize_t rc) { return rc == -EAGAIN || rc == -EWOULDBLOCK; }

bool set_offload(int fd, unsigned flags) noexcept {
  return sys_ioctl(fd, TUNSETOFFLOAD,
                   reinterpret_cast<void*>(static_cast<std::uintptr_t>(flags))) == 0;
}

DropReason segment_drop_reason(GsoStatus status) noexcept {
  switch (status) {
    case GsoStatus::kPoolExhausted:
      return DropReason::kPoolExhausted;
    case GsoStatus::kTooBig:
      return DropReason::kTooBig;
    default:
      return DropReason::kBadOffload;
  }
}

}  // namespace

std::string TunOffloads::describe() const {
  if (!vnet_header) return "none (plain packets)";
  std::string text = "vnet header";
  if (csum) text += ", csum";
  if (tso4) text += ", tso4";
  if (tso6) text += ", tso6";
  if (tso_ecn) text += ", tso_ecn";
  if (uso) text += ", uso4, uso6";
  return text;
}

TunOffloads probe_tun_offloads(int fd, bool want_gso) noexcept {
  TunOffloads result;
  ifreq request{};
  if (sys_ioctl(fd, TUNGETIFF, &request) != 0) return result;  // not a TUN
  result.vnet_header = (request.ifr_flags & IFF_VNET_HDR) != 0;
  if (!result.vnet_header) return result;
  const unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  const unsigned candidates[] = {tso | kTunFUso4 | kTunFUso6, tso,
                                 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM | TUN_F_TSO4,
                                 TUN_F_CSUM};
  for (const unsigned flags : candidates) {
    if (!want_gso && flags != TUN_F_CSUM) continue;
    if (!set_offload(fd, flags)) continue;
    result.csum = true;
    result.tso4 = (flags & TUN_F_TSO4) != 0;
    result.tso6 = (flags & TUN_F_TSO6) != 0;
    result.tso_ecn = (flags & TUN_F_TSO_ECN) != 0;
    result.uso = (flags & kTunFUso4) != 0;
    break;
  }
  return result;
}

namespace {

// One TUNSETIFF on a new /dev/net/tun descriptor: `name` with IFF_TUN | IFF_NO_PI, a vnet
// header when `offloads` (dropped when the kernel refuses it), and `extra_flags`.
Result<UniqueFd> open_tun_fd(const std::string& name, bool offloads, short extra_flags,
                             std::string& actual_name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return fail("io.tun", "TUN name '" + name + "' must have 1.." + std::to_string(IFNAMSIZ - 1) +
                              " characters");
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    const int error = errno;
    std::string hint = error == ENOENT ? "; is the tun module loaded (modprobe tun)?"
                                       : "; are you root (CAP_NET_ADMIN)?";
    return fail("io.tun", std::string("cannot open /dev/net/tun: ") + std::strerror(error) + hint);
  }
  ifreq request{};
  request.ifr_flags =
      static_cast<short>(IFF_TUN | IFF_NO_PI | extra_flags | (offloads ? IFF_VNET_HDR : 0));
  std::memcpy(request.ifr_name, name.data(), name.size());
  int rc = sys_ioctl(fd.get(), TUNSETIFF, &request);
  if (rc == -EINVAL && offloads) {  // a kernel without vnet headers on TUN: plain packets
    request.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | extra_flags);
    rc = sys_ioctl(fd.get(), TUNSETIFF, &request);
  }
  if (rc < 0) {
    const bool multi_queue = (extra_flags & IFF_MULTI_QUEUE) != 0;
    return fail("io.tun",
                "cannot create TUN interface '" + name + "'" +
                    (multi_queue ? " with IFF_MULTI_QUEUE" : "") +
                    " (TUNSETIFF): " + std::strerror(-rc) +
                    (-rc == EPERM   ? "; are you root (CAP_NET_ADMIN)?"
                     : -rc == EBUSY ? "; is another process using an interface of that name?"
                     : multi_queue && -rc == EINVAL
                         ? "; this kernel refuses multi-queue TUN (run the node with --workers 1)"
                         : ""));
  }
  actual_name.assign(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
  return fd;
}

// Attaches the flow steering program to the multi-queue TUN `fd` belongs to (tun_steering.hpp);
// when it cannot, warns once per process and leaves the kernel's automatic steering. Returns the
// state for the start log.
std::string steer_queues(int fd, bool flow_steering) {
  if (!flow_steering) return "kernel automatic (flow steering off)";
  auto attached = attach_tun_steering(fd);
  if (attached) return "flow hash (eBPF)";
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    spdlog::warn(
        "tun: no flow steering, the kernel steers flows to queues by itself (a flow may change "
        "queue and worker after its first answer or an idle gap, and be reordered): {}",
        attached.error().message);
  }
  return "kernel automatic (no eBPF program)";
}

}  // namespace

Result<std::unique_ptr<TunDevice>> TunDevice::open(boost::asio::io_context& io, PacketPool& pool,
                                                   const std::string& name, PacketPool* large_pool,
                                                   bool offloads) {
  std::string actual;
  auto fd = open_tun_fd(name, offloads, 0, actual);
  if (!fd) return Failure{fd.error()};
  auto device = std::make_unique<TunDevice>(io, pool, std::move(*fd), std::move(actual),
                                            kDefaultWriteQueueLimit, large_pool);
  spdlog::info("tun {}: offloads: {}", device->name(), device->offloads().describe());
  return device;
}

Result<std::vector<std::unique_ptr<TunDevice>>> TunDevice::open_queues(
    const std::vector<QueueContext>& queues, const std::string& name, bool offloads,
    bool flow_steering) {
  std::vector<std::unique_ptr<TunDevice>> devices;
  if (queues.size() == 1) {
    auto device = open(*queues[0].io, *queues[0].pool, name, queues[0].large_pool, offloads);
    if (!device) return Failure{device.error()};
    devices.push_back(std::move(*device));
    return devices;
  }
  std::string steering;
  for (const QueueContext& queue : queues) {
    std::string actual;
    // Every queue attaches with the same flags (the kernel insists); the first one decides
    // whether there is a vnet header.
    const bool vnet = devices.empty() ? offloads : devices.front()->offloads().vnet_header;
    auto fd = open_tun_fd(devices.empty() ? name : devices.front()->name(), vnet, IFF_MULTI_QUEUE,
                          actual);
    if (!fd) return Failure{fd.error()};
    if (devices.empty()) steering = steer_queues(fd->get(), flow_steering);
    devices.push_back(std::make_unique<TunDevice>(*queue.io, *queue.pool, std::move(*fd),
                                                  std::move(actual), kDefaultWriteQueueLimit,
                                                  queue.large_pool));
  }
  if (!devices.empty()) {
    spdlog::info("tun {}: {} queues (IFF_MULTI_QUEUE), queue steering: {}, offloads: {}",
                 devices.front()->name(), devices.size(), steering,
                 devices.front()->offloads().describe());
  }
  return devices;
}

TunDevice::TunDevice(boost::asio::io_context& io, PacketPool& pool, UniqueFd fd, std::string name,
                     std::size_t write_queue_limit, PacketPool* large_pool,
                     std::optional<TunOffloads> offloads)
    : io_(io),
      pool_(pool),
      large_pool_(large_pool),
      descriptor_(io),
      name_(std::move(name)),
      scratch_(kScratchSize),
      queue_(write_queue_limit == 0 ? 1 : write_queue_limit) {
  offloads_ = offloads ? *offloads : probe_tun_offloads(fd.get(), large_pool != nullptr);
  if (large_pool_ == nullptr) offloads_.tso4 = offloads_.tso6 = offloads_.uso = false;
  if (offloads_.vnet_header && large_pool_ != nullptr) gro_.emplace(*large_pool_);
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  descriptor_.assign(fd.release());
}

TunDevice::~TunDevice() { close(); }

Result<void> TunDevice::configure(const InterfaceSettings& settings) const {
  return configure_interface(name_, settings);
}

void TunDevice::start(BatchHandler on_batch) {
  on_batch_ = std::move(on_batch);
  if (closed_ || reading_) return;
  reading_ = true;
  wait_readable();
}

void TunDevice::wait_readable() {
  descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& error) {
                           if (error || closed_) return;
                           read_burst();
                         });
}

Packet TunDevice::read_one(bool& drained) {
  const int fd = descriptor_.native_handle();
  if (!spare_.valid()) spare_ = pool_.acquire();
  const bool gso = offloads_.gso() && large_pool_ != nullptr;
  if (gso && !spare_large_.valid() && spare_.valid()) spare_large_ = large_pool_->acquire();

  std::array<std::uint8_t, kVirtioNetHeaderSize> vnet{};
  std::array<iovec, 3> iov{};
  int count = 0;
  if (offloads_.vnet_header) iov[count++] = {vnet.data(), vnet.size()};
  const std::size_t small_room = spare_.valid() ? spare_.room() : 0;
  if (spare_.valid()) {
    iov[count++] = {spare_.data(), small_room};
    if (spare_large_.valid() && spare_large_.room() > small_room) {
      iov[count++] = {spare_large_.data() + small_room, spare_large_.room() - small_room};
    } else {
      iov[count++] = {scratch_.data(), scratch_.size()};  // only to tell a truncated read
    }
  } else {
    iov[count++] = {scratch_.data(), scratch_.size()};
  }
  const ssize_t n = offloads_.vnet_header || count > 1
                        ? sys_readv(fd, iov.data(), count)
                        : sys_read(fd, iov[0].iov_base, iov[0].iov_len);
  if (n < 0) {
    drained = true;
    if (!would_block(n)) {
      ++counters_.read_errors;
      if (!logged_read_error_) {
        logged_read_error_ = true;
        spdlog::warn("tun {}: read failed: {}", name_, std::strerror(static_cast<int>(-n)));
      }
    }
    return {};
  }
  if (n == 0) {  // end of file: only a test's socketpair does this; stop reading
    reading_ = false;
    drained = true;
    return {};
  }
  const std::size_t header = offloads_.vnet_header ? kVirtioNetHeaderSize : 0;
  if (static_cast<std::size_t>(n) < header) {
    ++counters_.bad_vnet_headers;
    counters_.drops.add(DropReason::kBadOffload);
    return {};
  }
  const std::size_t size = static_cast<std::size_t>(n) - header;
  if (!spare_.valid()) {
    counters_.drops.add(DropReason::kPoolExhausted);
    return {};
  }
  Packet packet;
  if (size <= small_room) {
    packet = std::move(spare_);
  } else if (iov[count - 1].iov_base != scratch_.data()) {
    std::memcpy(spare_large_.data(), spare_.data(), small_room);
    packet = std::move(spare_large_);
  } else {
    counters_.drops.add(gso ? DropReason::kPoolExhausted : DropReason::kTooBig);
    return {};
  }
  packet.resize(size);
  if (offloads_.vnet_header) {
    const VnetStatus status = parse_virtio_net_header(vnet, size, packet.meta());
    if (status != VnetStatus::kOk) {
      ++counters_.bad_vnet_headers;
      counters_.drops.add(DropReason::kBadOffload);
      return {};  // the buffer goes back to its pool
    }
    if (packet.meta().gso_valid) ++counters_.rx_super_packets;
  }
  ++counters_.rx_packets;
  counters_.rx_bytes += size;
  return packet;
}

void TunDevice::read_burst() {
  ++counters_.rx_bursts;
  bool drained = false;
  while (!rx_batch_.full() && !drained) {
    Packet packet = read_one(drained);
    if (packet.valid()) rx_batch_.push(std::move(packet));
  }
  if (!rx_batch_.empty()) {
    if (on_batch_) on_batch_(rx_batch_);
    rx_batch_.clear();
  }
  if (closed_ || !reading_) return;
  if (drained) {
    wait_readable();
  } else {
    // A full batch: more may be waiting. Yield to other handlers, then read on.
    boost::asio::post(io_, [this] {
      if (!closed_) read_burst();
    });
  }
}

TunDevice::WriteOutcome TunDevice::write_packet(Packet& packet) {
  ssize_t n = 0;
  if (offloads_.vnet_header) {
    std::array<std::uint8_t, kVirtioNetHeaderSize> vnet{};
    write_virtio_net_header(packet, vnet);
    const std::array<iovec, 2> iov{iovec{vnet.data(), vnet.size()},
                                   iovec{packet.data(), packet.size()}};
    n = sys_writev(descriptor_.native_handle(), iov.data(), static_cast<int>(iov.size()));
  } else {
    n = sys_write(descriptor_.native_handle(), packet.data(), packet.size());
  }
  if (n >= 0) {
    ++counters_.tx_packets;
    counters_.tx_bytes += packet.size();
    if (packet.meta().gso_valid) ++counters_.tx_super_packets;
    return WriteOutcome::kDone;
  }
  if (would_block(n)) return WriteOutcome::kAgain;
  // EINVAL: the kernel refused the packet (not a valid IP packet, or an offload it does not
  // take); the caller may retry it in software. Otherwise the device is gone.
  if (n == -EINVAL && needs_software_offload(packet)) return WriteOutcome::kRejected;
  ++counters_.write_errors;
  counters_.drops.add(n == -EINVAL ? DropReason::kBadIpHeader : DropReason::kLinkDown);
  return WriteOutcome::kDone;
}

void TunDevice::submit(Packet&& packet) {
  if (queue_count_ > 0) {  // keep order: later packets wait behind queued ones
    enqueue(std::move(packet));
    return;
  }
  switch (write_packet(packet)) {
    case WriteOutcome::kAgain:
      enqueue(std::move(packet));
      break;
    case WriteOutcome::kRejected:
      write_in_software(packet);
      break;
    case WriteOutcome::kDone:
      break;
  }
}

void TunDevice::write_in_software(Packet& packet) {
  const SoftwareOffload done =
      software_offload(packet, pool_, [this](Packet&& plain) { submit(std::move(plain)); });
  if (done.segmented) ++counters_.segmented;
  if (done.completed) ++counters_.checksums_completed;
  if (done.lost > 0) counters_.drops.add(segment_drop_reason(done.status), done.lost);
}

void TunDevice::send(PacketBatch& batch) {
  if (gro_ && !closed_ && batch.size() > 1) {
    const std::uint64_t before = gro_->merged_packets();
    gro_->coalesce(batch);
    counters_.coalesced += gro_->merged_packets() - before;
  }
  for (Packet& packet : batch) {
    if (closed_) {
      counters_.drops.add(DropReason::kLinkDown);
      continue;
    }
    if (packet.size() == 0) {
      counters_.drops.add(DropReason::kTooShort);
      continue;
    }
    if (!offloads_.vnet_header && needs_software_offload(packet)) {
      write_in_software(packet);
      continue;
    }
    submit(std::move(packet));
  }
  batch.clear();
}

void TunDevice::enqueue(Packet&& packet) {
  if (queue_count_ >= queue_.size()) {
    counters_.drops.add(DropReason::kQueueFull);
    packet.reset();
    return;
  }
  queue_[(queue_head_ + queue_count_) % queue_.size()] = std::move(packet);
  ++queue_count_;
  wait_writable();
}

void TunDevice::wait_writable() {
  if (write_waiting_ || closed_) return;
  write_waiting_ = true;
  descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                         [this](const boost::system::error_code& error) {
                           write_waiting_ = false;
                           if (error || closed_) return;
                           flush_queue();
                         });
}

void TunDevice::flush_queue() {
  while (queue_count_ > 0) {
    Packet& packet = queue_[queue_head_];
    const WriteOutcome outcome = write_packet(packet);
    if (outcome == WriteOutcome::kAgain) {
      wait_writable();
      return;
    }
    if (outcome == WriteOutcome::kRejected) {
      ++counters_.write_errors;
      counters_.drops.add(DropReason::kBadOffload);
    }
    packet.reset();
    queue_head_ = (queue_head_ + 1) % queue_.size();
    --queue_count_;
  }
}

void TunDevice::close() {
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  boost::system::error_code ignored;
  descriptor_.close(ignored);
  for (Packet& packet : queue_) packet.reset();
  queue_head_ = queue_count_ = 0;
  rx_batch_.clear();
  spare_.reset();
  spare_large_.reset();
}

}  // namespace nextmini::dataplane
