#include "nextmini/dataplane/link/codel.hpp"

#include <cmath>
#include <cstdint>

namespace nextmini::dataplane {

TimeNs Codel::control_law(TimeNs t, std::uint32_t count) const noexcept {
  const double step = static_cast<double>(config_.interval) /
                      std::sqrt(static_cast<double>(count == 0 ? 1 : count));
  return t + static_cast<TimeNs>(step);
}

bool Codel::ok_to_drop(TimeNs sojourn, const QueueSnapshot& queue, TimeNs now) noexcept {
  if (sojourn < config_.target || queue.bytes <= config_.mtu) {
    first_above_time_ = 0;
    return false;
  }
  if (first_above_time_ == 0) {
    first_above_time_ = now + config_.interval;
    return false;
  }
  return now >= first_above_time_;
}

bool Codel::on_dequeue(TimeNs sojourn, const QueueSnapshot& queue, TimeNs now) noexcept {
  const bool ok = ok_to_drop(sojourn, queue, now);
  if (after_entry_drop_) {
    // RFC 8289: the packet after the drop that entered the dropping state is delivered.
    after_entry_drop_ = false;
    return false;
  }
  if (after_drop_) {
    after_drop_ = false;
    if (!ok) {
      dropping_ = false;
      return false;
    }
    drop_next_ = control_law(drop_next_, count_);
  } else if (dropping_ && !ok) {
    dropping_ = false;
    return false;
  }
  if (dropping_) {
    if (now >= drop_next_) {
      ++count_;
      ++drops_;
      after_drop_ = true;
      return true;
    }
    return false;
  }
  if (!ok) return false;
  // Enter the dropping state. Reuse the count if the last episode ended recently.
  dropping_ = true;
  const std::uint32_t delta = count_ - lastcount_;
  count_ = 1;
  const auto since_next = static_cast<std::int64_t>(now) - static_cast<std::int64_t>(drop_next_);
  if (delta > 1 && since_next < static_cast<std::int64_t>(16 * config_.interval)) count_ = delta;
  drop_next_ = control_law(now, count_);
  lastcount_ = count_;
  ++drops_;
  after_entry_drop_ = true;
  return true;
}

void Codel::on_empty(TimeNs) noexcept {
  first_above_time_ = 0;
  dropping_ = false;
  after_entry_drop_ = false;
  after_drop_ = false;
}

}  // namespace nextmini::dataplane
