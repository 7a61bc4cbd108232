#include "state_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace nextmini::launcher {
namespace {

std::string read_holder(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.empty() ? "another nextmini command" : text;
}

}  // namespace

Result<StateLock> StateLock::acquire(const std::string& path, const std::string& purpose,
                                     int timeout_ms) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail("launcher.lock",
                fmt::format("cannot open lock file {}: {}", path, std::strerror(errno)));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int error = errno;
      ::close(fd);
      return fail("launcher.lock", fmt::format("flock {}: {}", path, std::strerror(error)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return fail("launcher.busy", fmt::format("{} is in progress (lock {}); wait for it to finish",
                                               read_holder(path), path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string holder = fmt::format("`nextmini {}` (pid {})\n", purpose, ::getpid());
  if (::ftruncate(fd, 0) == 0) {
    ssize_t written = ::pwrite(fd, holder.data(), holder.size(), 0);
    (void)written;
  }
  return StateLock(fd);
}

Result<StateLock> StateLock::try_acquire(const std::string& path, const std::string& purpose) {
  return acquire(path, purpose, 0);
}

StateLock::StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StateLock::~StateLock() { release(); }

void StateLock::release() {
  if (fd_ >= 0) {
    if (::ftruncate(fd_, 0) != 0) {
      // The holder text is only informational; a stale one is harmless.
    }
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace nextmini::launcher
