#include "nextmini/dataplane/io/syscalls.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace nextmini::dataplane {
namespace {

ssize_t libc_read(int fd, void* buffer, std::size_t size) { return ::read(fd, buffer, size); }
ssize_t libc_write(int fd, const void* buffer, std::size_t size) {
  return ::write(fd, buffer, size);
}
int libc_ioctl(int fd, unsigned long request, void* argument) {
  return ::ioctl(fd, request, argument);
}
ssize_t libc_readv(int fd, const iovec* iov, int count) { return ::readv(fd, iov, count); }
ssize_t libc_writev(int fd, const iovec* iov, int count) { return ::writev(fd, iov, count); }

}  // namespace

SyscallTable& syscall_table() noexcept {
  static SyscallTable table{&libc_read, &libc_write, &libc_ioctl, &libc_readv, &libc_writev};
  return table;
}

ScopedSyscallOverride::ScopedSyscallOverride(const SyscallTable& table) noexcept
    : saved_(syscall_table()) {
  syscall_table() = table;
}

ScopedSyscallOverride::~ScopedSyscallOverride() { syscall_table() = saved_; }

ssize_t sys_read(int fd, void* buffer, std::size_t size) noexcept {
  for (;;) {
    const ssize_t n = syscall_table().read(fd, buffer, size);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

ssize_t sys_write(int fd, const void* buffer, std::size_t size) noexcept {
  for (;;) {
    const ssize_t n = syscall_table().write(fd, buffer, size);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

int sys_ioctl(int fd, unsigned long request, void* argument) noexcept {
  for (;;) {
    if (syscall_table().ioctl(fd, request, argument) == 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

ssize_t sys_readv(int fd, const iovec* iov, int count) noexcept {
  for (;;) {
    const ssize_t n = syscall_table().readv(fd, iov, count);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

ssize_t sys_writev(int fd, const iovec* iov, int count) noexcept {
  for (;;) {
    const ssize_t n = syscall_table().writev(fd, iov, count);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace nextmini::dataplane
