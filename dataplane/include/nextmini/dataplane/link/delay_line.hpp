#pragma once
// DelayLine: holds each packet for `delay` plus a random jitter, then releases it.
// Inputs: enqueue(packet, now). Outputs: release(now, out) appends every packet whose release
// time has come (up to a full batch); next_release_time() tells the caller when to wake.
// Knobs (DelayParams, changeable at run time with set_params(); queued packets keep the
// release times they got): delay_ns, jitter_ns, distribution (uniform: delay + U[-jitter,
// +jitter]; normal: delay + N(0, jitter^2); both truncated at 0 — a negative draw is redrawn,
// never clamped, so no point mass at 0),
// reorder (false: a packet never leaves before one enqueued earlier — its release time is
// max(its own, the latest release time so far); true: jittered packets may overtake).
// Capacity: a bound in packets fixed at construction; storage is reserved once (a binary
// min-heap ordered by release time, then arrival order), so the data path never allocates.
// When full, enqueue() refuses the packet and leaves it with the caller, which drops it with
// its own DropReason (counted here too as rejected_full()).
// Counters: enqueued(), released(), rejected_full(), size().
// Thread: the link's worker; no I/O, no clock reads; the RNG is seeded and owned here.

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/link/link_time.hpp"

namespace nextmini::dataplane {

enum class JitterDistribution : std::uint8_t { kUniform, kNormal };

struct DelayParams {
  TimeNs delay_ns = 0;
  TimeNs jitter_ns = 0;
  JitterDistribution distribution = JitterDistribution::kUniform;
  bool reorder = false;
};

class DelayLine {
 public:
  DelayLine(std::size_t capacity_packets, DelayParams params, std::uint64_t seed = 1);

  void set_params(const DelayParams& params) noexcept { params_ = params; }
  const DelayParams& params() const noexcept { return params_; }

  // Takes the packet and returns true, or returns false (packet untouched) when full.
  bool enqueue(Packet&& packet, TimeNs now) noexcept;
  // Moves due packets into `out` (in release order) until it is full; returns how many.
  std::size_t release(TimeNs now, PacketBatch& out) noexcept;
  // Release time of the next packet, kNever when empty.
  TimeNs next_release_time() const noexcept;
  // Drops every queued packet (returns them to their pool); returns how many.
  std::size_t clear() noexcept;

  // The delay a packet enqueued now would get before the reorder rule (for tests and probes).
  TimeNs sample_delay() noexcept;

  std::size_t size() const noexcept { return heap_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return heap_.empty(); }
  std::uint64_t enqueued() const noexcept { return enqueued_; }
  std::uint64_t released() const noexcept { return released_; }
  std::uint64_t rejected_full() const noexcept { return rejected_full_; }

 private:
  struct Entry {
    TimeNs release = 0;
    std::uint64_t seq = 0;
    Packet packet;
  };
  // Heap order: the root is the smallest (release, seq).
  static bool later(const Entry& a, const Entry& b) noexcept {
    return a.release != b.release ? a.release > b.release : a.seq > b.seq;
  }

  std::size_t capacity_;
  DelayParams params_;
  std::mt19937_64 rng_;
  std::vector<Entry> heap_;
  TimeNs last_release_ = 0;  // latest release time given so far (the reorder = false floor)
  std::uint64_t seq_ = 0;
  std::uint64_t enqueued_ = 0;
  std::uint64_t released_ = 0;
  std::uint64_t rejected_full_ = 0;
};

}  // namespace nextmini::dataplane
