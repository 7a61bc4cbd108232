#include "process_control.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace nextmini::launcher {
namespace {

// The state letter of /proc/PID/stat ('R', 'S', 'Z', ...), or 0 when the process is gone.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= text.size()) return 0;
  return text[close_paren + 2];
}

}  // namespace

bool ProcessControl::is_alive(pid_t pid) {
  if (pid <= 0) return false;
  int status = 0;
  // Reap it if it is our child that has exited (ECHILD for anyone else's process: ignored).
  ::waitpid(pid, &status, WNOHANG);
  if (::kill(pid, 0) != 0) return false;
  char state = process_state(pid);
  return state != 0 && state != 'Z' && state != 'X';
}

std::vector<std::string> ProcessControl::command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  std::string arg;
  while (std::getline(in, arg, '\0')) argv.push_back(arg);
  return argv;
}

bool ProcessControl::runs_command(pid_t pid, const std::vector<std::string>& argv) {
  if (!is_alive(pid)) return false;
  auto actual = command_line(pid);
  if (actual.empty() || actual.size() > argv.size()) return false;
  // `ip netns exec NS CMD…` replaces itself with CMD…, so compare against argv's tail.
  return std::equal(actual.begin(), actual.end(), argv.end() - static_cast<long>(actual.size()));
}

std::vector<pid_t> ProcessControl::stop(const std::vector<pid_t>& pids,
                                        std::chrono::milliseconds grace) {
  std::vector<pid_t> live;
  for (pid_t pid : pids) {
    if (is_alive(pid) && pid != ::getpid()) {
      ::kill(pid, SIGTERM);
      live.push_back(pid);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  auto any_alive = [&] {
    return std::any_of(live.begin(), live.end(), [](pid_t pid) { return is_alive(pid); });
  };
  while (any_alive() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<pid_t> killed;
  for (pid_t pid : live) {
    if (is_alive(pid)) {
      ::kill(pid, SIGKILL);
      killed.push_back(pid);
    }
  }
  auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (any_alive() && std::chrono::steady_clock::now() < kill_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return killed;
}

}  // namespace nextmini::launcher
