#include "nextmini/dataplane/io/tun_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "nextmini/dataplane/io/syscalls.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::size_t kScratchSize = 65536;

bool would_block(ssize_t rc) { return rc == -EAGAIN || rc == -EWOULDBLOCK; }

}  // namespace

Result<std::unique_ptr<TunDevice>> TunDevice::open(boost::asio::io_context& io, PacketPool& pool,
                                                   const std::string& name) {
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
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (int rc = sys_ioctl(fd.get(), TUNSETIFF, &request); rc < 0) {
    return fail("io.tun",
                "cannot create TUN interface '" + name + "' (TUNSETIFF): " + std::strerror(-rc) +
                    (-rc == EPERM   ? "; are you root (CAP_NET_ADMIN)?"
                     : -rc == EBUSY ? "; is another process using an interface of that name?"
                                    : ""));
  }
  std::string actual(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
  return std::make_unique<TunDevice>(io, pool, std::move(fd), std::move(actual));
}

TunDevice::TunDevice(boost::asio::io_context& io, PacketPool& pool, UniqueFd fd, std::string name,
                     std::size_t write_queue_limit)
    : io_(io),
      pool_(pool),
      descriptor_(io),
      name_(std::move(name)),
      scratch_(kScratchSize),
      queue_(write_queue_limit == 0 ? 1 : write_queue_limit) {
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

void TunDevice::read_burst() {
  const int fd = descriptor_.native_handle();
  bool drained = false;
  while (!rx_batch_.full()) {
    Packet packet = pool_.acquire();
    const bool have_buffer = packet.valid();
    void* target = have_buffer ? static_cast<void*>(packet.data()) : scratch_.data();
    const std::size_t room = have_buffer ? packet.room() : scratch_.size();
    const ssize_t n = sys_read(fd, target, room);
    if (n < 0) {
      drained = true;
      if (!would_block(n)) {
        ++counters_.read_errors;
        if (!logged_read_error_) {
          logged_read_error_ = true;
          spdlog::warn("tun {}: read failed: {}", name_, std::strerror(static_cast<int>(-n)));
        }
      }
      break;
    }
    if (n == 0) {  // end of file: only a test's socketpair does this; stop reading
      reading_ = false;
      drained = true;
      break;
    }
    if (!have_buffer) {
      counters_.drops.add(DropReason::kPoolExhausted);
      continue;
    }
    packet.resize(static_cast<std::size_t>(n));
    ++counters_.rx_packets;
    counters_.rx_bytes += static_cast<std::uint64_t>(n);
    rx_batch_.push(std::move(packet));
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
  const ssize_t n = sys_write(descriptor_.native_handle(), packet.data(), packet.size());
  if (n >= 0) {
    ++counters_.tx_packets;
    counters_.tx_bytes += packet.size();
    return WriteOutcome::kDone;
  }
  if (would_block(n)) return WriteOutcome::kAgain;
  ++counters_.write_errors;
  // EINVAL: the kernel refused the packet (not a valid IP packet); otherwise the device is gone.
  counters_.drops.add(n == -EINVAL ? DropReason::kBadIpHeader : DropReason::kLinkDown);
  return WriteOutcome::kDone;
}

void TunDevice::send(PacketBatch& batch) {
  for (Packet& packet : batch) {
    if (closed_) {
      counters_.drops.add(DropReason::kLinkDown);
      continue;
    }
    if (packet.size() == 0) {
      counters_.drops.add(DropReason::kTooShort);
      continue;
    }
    if (queue_count_ > 0) {  // keep order: later packets wait behind queued ones
      enqueue(std::move(packet));
      continue;
    }
    if (write_packet(packet) == WriteOutcome::kAgain) enqueue(std::move(packet));
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
    if (write_packet(packet) == WriteOutcome::kAgain) {
      wait_writable();
      return;
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
}

}  // namespace nextmini::dataplane
