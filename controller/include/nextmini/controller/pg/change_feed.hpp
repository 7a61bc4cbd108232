#pragma once
// ChangeFeed: the change log (table `changes`, docs/database.md) as a stream of batches for the
// controller. It listens on channel "nextmini" (a Listener) and, on every notification burst
// and after every (re)connect, reads the log past what it has delivered (PgStore::
// changes_since) and hands the new entries, oldest first, to on_changes. Notifications only
// wake it: a burst of them (one per row of a big statement) costs one read, and a change made
// while the feed was disconnected is still read, because reading follows the log, not the
// notifications.
// Gaps: seq values are taken when a row is written, so a transaction can commit a seq below
// one already delivered (it started earlier), and a rolled-back transaction leaves a seq that
// never appears. The feed remembers the seqs it skipped over (at most max_gaps, oldest given up
// first) and asks for them again with every read, for gap_timeout; so a late commit is
// delivered (out of order) and an abandoned seq costs nothing after the timeout.
// Inputs: PgStore (for reads), the database URL (for the listener). Output: on_changes, on the
// io_context's thread. A read that fails is tried again every `retry` until it succeeds.
// Knobs: ChangeFeedOptions. Counters: reads(), delivered().
// Thread: the io_context's; the PgStore is used from it too.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nextmini/controller/pg/listener.hpp"
#include "nextmini/controller/pg_store.hpp"

namespace nextmini::controller::pg {

struct ChangeFeedOptions {
  std::size_t batch = 1000;                     // entries per read
  std::chrono::milliseconds gap_timeout{2000};  // how long a missing seq is waited for
  std::size_t max_gaps = 10000;                 // missing seqs remembered at most
  BackoffConfig backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(5000)};
  // A read that failed (the database went away) is tried again after this, so the log is read
  // once the store reconnects even when no notification comes.
  std::chrono::milliseconds retry{500};
};

class ChangeFeed {
 public:
  using OnChanges = std::function<void(const std::vector<Change>&)>;
  using OnError = std::function<void(const Error&)>;

  ChangeFeed(boost::asio::any_io_executor executor, PgStore& store, std::string url,
             OnChanges on_changes, OnError on_error = nullptr, ChangeFeedOptions options = {});
  ~ChangeFeed();

  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Delivers every change with seq > after_seq (0: the whole log), then follows the log.
  void start(std::uint64_t after_seq);
  void stop();

  // Every seq at or below this is delivered or given up: where to resume after a restart.
  std::uint64_t low_mark() const { return gaps_.empty() ? high_ : gaps_.begin()->first - 1; }
  std::uint64_t high_mark() const { return high_; }  // the highest seq delivered
  bool listening() const { return listener_.connected(); }
  std::uint64_t reads() const { return reads_; }
  std::uint64_t delivered() const { return delivered_; }

 private:
  void schedule_read();
  void read();
  void expire_gaps();
  void retry_later();

  boost::asio::any_io_executor executor_;
  PgStore& store_;
  OnChanges on_changes_;
  OnError on_error_;
  ChangeFeedOptions options_;
  boost::asio::steady_timer retry_timer_;
  Listener listener_;
  std::uint64_t high_ = 0;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> gaps_;  // seq -> first missed
  bool read_scheduled_ = false;
  bool running_ = false;
  std::shared_ptr<bool> token_ = std::make_shared<bool>(true);
  std::uint64_t reads_ = 0;
  std::uint64_t delivered_ = 0;
};

}  // namespace nextmini::controller::pg
