#include "nextmini/controller/pg/change_feed.hpp"

#include <boost/asio/post.hpp>

namespace nextmini::controller::pg {

ChangeFeed::ChangeFeed(boost::asio::any_io_executor executor, PgStore& store, std::string url,
                       OnChanges on_changes, OnError on_error, ChangeFeedOptions options)
    : executor_(executor),
      store_(store),
      on_changes_(std::move(on_changes)),
      on_error_(std::move(on_error)),
      options_(options),
      retry_timer_(executor),
      listener_(executor, std::move(url), {"nextmini"},
                {[this](const Notification&) { schedule_read(); }, [this] { schedule_read(); },
                 [this](const Error& error) {
                   if (on_error_) on_error_(error);
                 }},
                options.backoff) {}

ChangeFeed::~ChangeFeed() { stop(); }

void ChangeFeed::start(std::uint64_t after_seq) {
  if (running_) return;
  running_ = true;
  high_ = after_seq;
  gaps_.clear();
  listener_.start();  // on_connected schedules the first read
}

void ChangeFeed::stop() {
  running_ = false;
  read_scheduled_ = false;
  token_ = std::make_shared<bool>(true);
  retry_timer_.cancel();
  listener_.stop();
}

void ChangeFeed::schedule_read() {
  if (!running_ || read_scheduled_) return;
  read_scheduled_ = true;
  std::weak_ptr<bool> token = token_;
  // Posted, so every notification already buffered is folded into this one read.
  boost::asio::post(executor_, [this, token] {
    if (token.expired() || !running_) return;
    read_scheduled_ = false;
    read();
  });
}

void ChangeFeed::read() {
  ++reads_;
  expire_gaps();
  std::vector<std::uint64_t> missing;
  missing.reserve(gaps_.size());
  for (const auto& [seq, since] : gaps_) missing.push_back(seq);
  auto changes = store_.changes_since(high_, options_.batch, missing);
  if (!changes) {
    // The listener notices an outage too and reads again when it is back; the store may take
    // longer to reconnect than the listener, so a failed read is also tried again on a timer.
    std::weak_ptr<bool> token = token_;
    if (on_error_) on_error_(changes.error());
    if (!token.expired() && running_) retry_later();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  std::vector<Change> fresh;
  fresh.reserve(changes->size());
  for (auto& change : *changes) {
    if (change.seq <= high_) {
      if (gaps_.erase(change.seq) > 0) fresh.push_back(std::move(change));  // a late commit
      continue;
    }
    for (std::uint64_t skipped = high_ + 1; skipped < change.seq; ++skipped) {
      gaps_.try_emplace(skipped, now);
    }
    high_ = change.seq;
    fresh.push_back(std::move(change));
  }
  while (gaps_.size() > options_.max_gaps) gaps_.erase(gaps_.begin());
  if (!fresh.empty()) {
    delivered_ += fresh.size();
    std::weak_ptr<bool> token = token_;
    on_changes_(fresh);
    if (token.expired() || !running_) return;
  }
  if (changes->size() >= options_.batch) schedule_read();  // more to read
}

void ChangeFeed::retry_later() {
  std::weak_ptr<bool> token = token_;
  retry_timer_.expires_after(options_.retry);
  retry_timer_.async_wait([this, token](const boost::system::error_code& error) {
    if (error || token.expired() || !running_) return;
    schedule_read();
  });
}

void ChangeFeed::expire_gaps() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(gaps_, [&](const auto& gap) { return now - gap.second >= options_.gap_timeout; });
}

}  // namespace nextmini::controller::pg
