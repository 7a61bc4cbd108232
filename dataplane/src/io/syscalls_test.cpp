#include "nextmini/dataplane/io/syscalls.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nextmini/dataplane/io/unique_fd.hpp"

namespace nextmini::dataplane {
namespace {

int g_interrupts_left = 0;

ssize_t interrupted_read(int fd, void* buffer, std::size_t size) {
  if (g_interrupts_left > 0) {
    --g_interrupts_left;
    errno = EINTR;
    return -1;
  }
  return ::read(fd, buffer, size);
}

ssize_t interrupted_write(int fd, const void* buffer, std::size_t size) {
  if (g_interrupts_left > 0) {
    --g_interrupts_left;
    errno = EINTR;
    return -1;
  }
  return ::write(fd, buffer, size);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_pipe() {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(UniqueFd, ClosesOnResetAndMovesOwnership) {
  Pipe pipe = make_pipe();
  const int raw = pipe.read_end.get();
  UniqueFd moved(std::move(pipe.read_end));
  EXPECT_FALSE(pipe.read_end.valid());
  EXPECT_EQ(moved.get(), raw);
  moved.reset();
  EXPECT_FALSE(moved.valid());
  errno = 0;
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed
  EXPECT_EQ(errno, EBADF);
}

TEST(Syscalls, ReadAndWriteRetryOnEintr) {
  Pipe pipe = make_pipe();
  SyscallTable table = syscall_table();
  table.read = &interrupted_read;
  table.write = &interrupted_write;
  ScopedSyscallOverride override_table(table);

  g_interrupts_left = 3;
  ASSERT_EQ(sys_write(pipe.write_end.get(), "abc", 3), 3);
  EXPECT_EQ(g_interrupts_left, 0);

  g_interrupts_left = 2;
  char buffer[8] = {};
  ASSERT_EQ(sys_read(pipe.read_end.get(), buffer, sizeof(buffer)), 3);
  EXPECT_EQ(std::memcmp(buffer, "abc", 3), 0);
  EXPECT_EQ(g_interrupts_left, 0);
}

TEST(Syscalls, ErrorsComeBackAsNegativeErrno) {
  char buffer[4];
  EXPECT_EQ(sys_read(-1, buffer, sizeof(buffer)), -EBADF);
  EXPECT_EQ(sys_write(-1, buffer, sizeof(buffer)), -EBADF);
  EXPECT_EQ(sys_ioctl(-1, 0, nullptr), -EBADF);
}

TEST(Syscalls, OverrideIsRestored) {
  const auto original_read = syscall_table().read;
  {
    SyscallTable table = syscall_table();
    table.read = &interrupted_read;
    ScopedSyscallOverride override_table(table);
    EXPECT_EQ(syscall_table().read, &interrupted_read);
  }
  EXPECT_EQ(syscall_table().read, original_read);
}

}  // namespace
}  // namespace nextmini::dataplane
