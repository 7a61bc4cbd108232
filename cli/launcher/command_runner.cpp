#include "command_runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>

namespace nextmini::launcher {
namespace {

// argv as the char* array execvp wants; the strings must outlive the call.
std::vector<char*> to_exec_argv(const std::vector<std::string>& argv) {
  std::vector<char*> result;
  result.reserve(argv.size() + 1);
  for (const auto& arg : argv) result.push_back(const_cast<char*>(arg.c_str()));
  result.push_back(nullptr);
  return result;
}

// Writes the whole buffer, retrying on EINTR (child side, async-signal-safe).
void write_all(int fd, const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(fd, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

// After fork, in the child: exec `argv`; on failure report errno through `error_fd` and exit.
[[noreturn]] void exec_child(const std::vector<char*>& argv, int error_fd) {
  ::execvp(argv[0], argv.data());
  int error = errno;
  write_all(error_fd, &error, sizeof(error));
  ::_exit(127);
}

// Reads the errno a child wrote before failing to exec; 0 when exec succeeded (pipe closed).
int read_exec_error(int fd) {
  int error = 0;
  ssize_t got;
  do {
    got = ::read(fd, &error, sizeof(error));
  } while (got < 0 && errno == EINTR);
  return got == static_cast<ssize_t>(sizeof(error)) ? error : 0;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string join_command(const std::vector<std::string>& argv) {
  std::string joined;
  for (const auto& arg : argv) {
    if (!joined.empty()) joined += ' ';
    joined += arg;
  }
  return joined;
}

Result<CommandOutput> run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return fail("launcher.command", "empty command");
  int output_pipe[2];
  int error_pipe[2];
  if (::pipe2(output_pipe, O_CLOEXEC) != 0) {
    return fail("launcher.command", fmt::format("pipe: {}", std::strerror(errno)));
  }
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    ::close(output_pipe[0]);
    ::close(output_pipe[1]);
    return fail("launcher.command", fmt::format("pipe: {}", std::strerror(errno)));
  }
  auto exec_argv = to_exec_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {output_pipe[0], output_pipe[1], error_pipe[0], error_pipe[1]}) ::close(fd);
    return fail("launcher.command", fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(output_pipe[1], STDOUT_FILENO);
    ::dup2(output_pipe[1], STDERR_FILENO);
    exec_child(exec_argv, error_pipe[1]);
  }
  ::close(output_pipe[1]);
  ::close(error_pipe[1]);
  CommandOutput result;
  char buffer[4096];
  for (;;) {
    ssize_t got = ::read(output_pipe[0], buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(output_pipe[0]);
  int exec_error = read_exec_error(error_pipe[0]);
  ::close(error_pipe[0]);
  result.exit_code = wait_exit_code(pid);
  if (exec_error != 0) {
    return fail("launcher.command",
                fmt::format("cannot run '{}': {}", argv[0], std::strerror(exec_error)));
  }
  return result;
}

Result<std::string> run_checked(const std::vector<std::string>& argv) {
  auto result = run_command(argv);
  if (!result) return Failure{result.error()};
  if (result->exit_code != 0) {
    std::string output = result->output;
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    return fail("launcher.command",
                fmt::format("'{}' failed (exit status {}){}{}", join_command(argv),
                            result->exit_code, output.empty() ? "" : ": ", output));
  }
  return std::move(result->output);
}

Result<pid_t> spawn_logged(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return fail("launcher.spawn", "empty command");
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return fail("launcher.spawn",
                fmt::format("cannot open log file {}: {}", log_path, std::strerror(errno)));
  }
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return fail("launcher.spawn", fmt::format("pipe: {}", std::strerror(errno)));
  }
  auto exec_argv = to_exec_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(error_pipe[0]);
    ::close(error_pipe[1]);
    return fail("launcher.spawn", fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Restore default signal handling the launcher may have changed.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    exec_child(exec_argv, error_pipe[1]);
  }
  ::close(log_fd);
  ::close(error_pipe[1]);
  int exec_error = read_exec_error(error_pipe[0]);
  ::close(error_pipe[0]);
  if (exec_error != 0) {
    wait_exit_code(pid);
    return fail("launcher.spawn",
                fmt::format("cannot run '{}': {}", argv[0], std::strerror(exec_error)));
  }
  return pid;
}

Error exec_replace(const std::vector<std::string>& argv) {
  if (argv.empty()) return Error{"launcher.exec", "empty command"};
  auto exec_argv = to_exec_argv(argv);
  ::execvp(exec_argv[0], exec_argv.data());
  return Error{"launcher.exec", fmt::format("cannot run '{}': {}", argv[0], std::strerror(errno))};
}

std::string self_executable() {
  char path[4096];
  ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) return "nextmini";
  return std::string(path, static_cast<std::size_t>(length));
}

std::string tail_file(const std::string& path, std::size_t max_lines) {
  std::ifstream in(path);
  if (!in) return {};
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(std::move(line));
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string result;
  for (const auto& kept : lines) {
    result += kept;
    result += '\n';
  }
  return result;
}

}  // namespace nextmini::launcher
