#pragma once
// Syscall seam for the I/O stages (the {fmt} model, DESIGN.md §7): the TUN device and other
// raw-descriptor code call read/write/ioctl through this table instead of libc directly, so a
// test can swap in functions that fail with EINTR, EAGAIN or EIO on demand.
//   sys_read / sys_write / sys_readv / sys_writev: retry on EINTR; return the byte count, or
//   -errno on failure.
//   sys_ioctl: retries on EINTR; returns 0 or -errno.
// Thread: the table is process-wide; override it only in tests, before I/O starts.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace nextmini::dataplane {

struct SyscallTable {
  ssize_t (*read)(int fd, void* buffer, std::size_t size);
  ssize_t (*write)(int fd, const void* buffer, std::size_t size);
  int (*ioctl)(int fd, unsigned long request, void* argument);
  ssize_t (*readv)(int fd, const iovec* iov, int count);
  ssize_t (*writev)(int fd, const iovec* iov, int count);
};

// The table in use (libc's functions unless a test replaced them).
SyscallTable& syscall_table() noexcept;

// Replaces the table for its lifetime (tests only); restores the previous one when destroyed.
class ScopedSyscallOverride {
 public:
  explicit ScopedSyscallOverride(const SyscallTable& table) noexcept;
  ScopedSyscallOverride(const ScopedSyscallOverride&) = delete;
  ScopedSyscallOverride& operator=(const ScopedSyscallOverride&) = delete;
  ~ScopedSyscallOverride();

 private:
  SyscallTable saved_;
};

ssize_t sys_read(int fd, void* buffer, std::size_t size) noexcept;
ssize_t sys_write(int fd, const void* buffer, std::size_t size) noexcept;
int sys_ioctl(int fd, unsigned long request, void* argument) noexcept;
ssize_t sys_readv(int fd, const iovec* iov, int count) noexcept;
ssize_t sys_writev(int fd, const iovec* iov, int count) noexcept;

}  // namespace nextmini::dataplane
