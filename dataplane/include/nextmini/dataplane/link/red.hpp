#pragma once
// Red: Random Early Detection (Floyd & Jacobson 1993) as a drop policy, dropping on arrival.
//   Average: on each arrival to a non-empty queue, avg = (1 - w_q) * avg + w_q * q, with q the
//   queue size in the limit's unit (bytes for a byte limit, packets otherwise). On an arrival
//   to an empty queue that has been idle since q_time, avg = (1 - w_q)^m * avg with
//   m = (now - q_time) / small_packet_time: avg decays as if m small packets had been sent.
//   Drop probability: p_b = max_p * (avg - min_th) / (max_th - min_th) for min_th <= avg <
//   max_th; spaced by count (arrivals since the last drop): p_a = p_b / (1 - count * p_b)
//   (p_a = 1 once count * p_b >= 1; count includes this arrival, so at a steady avg the gap
//   between drops is uniform in 1..1/p_b - 1, as in the paper's Figure 2). avg >= max_th drops
//   every arrival, unless gentle: then p_b = max_p + (1 - max_p) * (avg - max_th) / max_th up
//   to 2 * max_th, and every arrival beyond.
//   A GSO super-packet is one arrival (its segments count in q).
//   Knobs (RedConfig): min_th, max_th (0 = derived from the limit L: max_th = L / 2,
//   min_th = max_th / 3, the 3:1 ratio Floyd recommends), max_p (0.1), w_q (0.002), gentle
//   (true), small_packet_time (the time to send a small packet at the link rate; default 12 us,
//   1500 bytes at 1 Gbit/s — set it from the link rate), seed of the owned xorshift RNG.
//   Counters: early_drops(), forced_drops() (avg above the thresholds), average().
//   Thread: the link's worker.

#include <cstdint>

#include "nextmini/dataplane/link/drop_policy.hpp"
#include "nextmini/dataplane/link/link_queue.hpp"

namespace nextmini::dataplane {

struct RedConfig {
  double min_th = 0;  // in the limit's unit; 0 = derived
  double max_th = 0;  // in the limit's unit; 0 = derived
  double max_p = 0.1;
  double w_q = 0.002;
  bool gentle = true;
  TimeNs small_packet_time = 12'000;
  std::uint64_t seed = 0x5eed5eed5eedULL;
};

class Red final : public DropPolicy {
 public:
  // `limit` gives the unit of q (bytes or packets) and the derived thresholds.
  Red(const RedConfig& config, const QueueLimit& limit);

  bool on_enqueue(const QueueSnapshot& queue, std::uint32_t bytes, std::uint32_t segments,
                  TimeNs now) noexcept override;
  bool on_dequeue(TimeNs, const QueueSnapshot&, TimeNs) noexcept override { return false; }
  void on_empty(TimeNs now) noexcept override;

  double average() const noexcept { return avg_; }
  double min_th() const noexcept { return min_th_; }
  double max_th() const noexcept { return max_th_; }
  // The spaced drop probability p_a the last arrival faced (0 below min_th, 1 when forced).
  double last_probability() const noexcept { return last_probability_; }
  std::uint64_t early_drops() const noexcept { return early_drops_; }
  std::uint64_t forced_drops() const noexcept { return forced_drops_; }

 private:
  double uniform() noexcept;

  RedConfig config_;
  bool in_bytes_;
  double min_th_;
  double max_th_;
  double avg_ = 0;
  std::int64_t count_ = -1;
  TimeNs q_time_ = 0;
  std::uint64_t rng_;
  double last_probability_ = 0;
  std::uint64_t early_drops_ = 0;
  std::uint64_t forced_drops_ = 0;
};

}  // namespace nextmini::dataplane
