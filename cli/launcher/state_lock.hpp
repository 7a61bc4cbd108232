#pragma once
// An exclusive lock on <run dir>/lock (flock) held while a subcommand changes the network
// (up during bring-up, down, restart), so two of them never interleave. The file holds the
// holder's pid and what it is doing, so a refused caller can say who holds it.

#include <string>

#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

class StateLock {
 public:
  // Takes the lock without waiting; fails with "launcher.busy" naming the holder.
  static Result<StateLock> try_acquire(const std::string& path, const std::string& purpose);
  // Waits up to `timeout_ms` for the lock.
  static Result<StateLock> acquire(const std::string& path, const std::string& purpose,
                                   int timeout_ms);

  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

  void release();

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace nextmini::launcher
