#pragma once
// Packet: a move-only handle to one pooled buffer holding one packet (or one GSO super-packet).
// The bytes live at [data(), data() + size()) inside the buffer; the space before data() is
// headroom, so headers (the overlay header, a link frame prefix) are prepended without a copy.
// Destroying or resetting a Packet returns its buffer to the PacketPool it came from; a Packet
// must be released on the thread that owns that pool.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace nextmini::dataplane {

class PacketPool;

// Per-packet metadata that stages fill in and read; reset when the packet is recycled.
struct PacketMeta {
  std::uint32_t ingress_neighbor = 0;  // node id of the link it arrived on, 0 = local (TUN/app)
  std::uint32_t flow_hash = 0;
  std::uint8_t flow_weight = 0;  // WRR/DRR weight of its flow (overlay header byte 31); 0 = 1
  // Offload metadata (as in virtio_net_hdr, core/virtio_net_header.hpp); carried in the overlay
  // header. gso_valid: a GSO super-packet of gso_type cut into gso_size payload pieces on the
  // wire. needs_csum: the L4 checksum at csum_start + csum_offset holds only the pseudo-header
  // sum (the kernel's NEEDS_CSUM); it is completed by the far TUN or by complete_checksum().
  bool gso_valid = false;
  bool needs_csum = false;
  std::uint8_t gso_type = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
  // Bytes in front of the IP packet in data(): the overlay header on a packet the Processor sent
  // toward a link or took from one, 0 on a plain IP packet. csum_start counts from the IP packet,
  // so a stage reading its L4 header adds this (packet_segments()).
  std::uint16_t l3_offset = 0;
};

class Packet {
 public:
  Packet() = default;
  Packet(const Packet&) = delete;
  Packet& operator=(const Packet&) = delete;
  Packet(Packet&& other) noexcept { *this = std::move(other); }
  Packet& operator=(Packet&& other) noexcept {
    if (this != &other) {
      reset();
      pool_ = std::exchange(other.pool_, nullptr);
      buffer_ = std::exchange(other.buffer_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
      offset_ = std::exchange(other.offset_, 0);
      size_ = std::exchange(other.size_, 0);
      meta_ = other.meta_;
    }
    return *this;
  }
  ~Packet() { reset(); }

  // False for a default-constructed or moved-from handle.
  bool valid() const noexcept { return buffer_ != nullptr; }

  std::uint8_t* data() noexcept { return buffer_ + offset_; }
  const std::uint8_t* data() const noexcept { return buffer_ + offset_; }
  std::size_t size() const noexcept { return size_; }
  std::span<std::uint8_t> bytes() noexcept { return {data(), size_}; }
  std::span<const std::uint8_t> bytes() const noexcept { return {data(), size_}; }

  std::size_t headroom() const noexcept { return offset_; }
  std::size_t tailroom() const noexcept { return capacity_ - offset_ - size_; }
  // Bytes that fit after data() (what a read into this packet may fill).
  std::size_t room() const noexcept { return capacity_ - offset_; }

  // Grows the packet at the front by n bytes of headroom; false (and no change) if too little.
  bool push_front(std::size_t n) noexcept {
    if (n > offset_) return false;
    offset_ -= n;
    size_ += n;
    return true;
  }
  // Removes n bytes from the front (they become headroom); false if the packet is shorter.
  bool pull_front(std::size_t n) noexcept {
    if (n > size_) return false;
    offset_ += n;
    size_ -= n;
    return true;
  }
  // Sets the length of the bytes after data(); false if it exceeds room().
  bool resize(std::size_t n) noexcept {
    if (n > room()) return false;
    size_ = n;
    return true;
  }
  // Moves data() so that `headroom` bytes precede it and the packet is empty.
  void clear(std::size_t headroom) noexcept {
    offset_ = headroom <= capacity_ ? headroom : capacity_;
    size_ = 0;
  }

  PacketMeta& meta() noexcept { return meta_; }
  const PacketMeta& meta() const noexcept { return meta_; }

  // Returns the buffer to its pool; the handle becomes invalid.
  void reset() noexcept;

 private:
  friend class PacketPool;
  Packet(PacketPool* pool, std::uint8_t* buffer, std::size_t capacity,
         std::size_t headroom) noexcept
      : pool_(pool), buffer_(buffer), capacity_(capacity), offset_(headroom) {}

  PacketPool* pool_ = nullptr;
  std::uint8_t* buffer_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t offset_ = 0;
  std::size_t size_ = 0;
  PacketMeta meta_;
};

}  // namespace nextmini::dataplane
