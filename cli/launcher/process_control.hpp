#pragma once
// Finding and stopping the processes a launcher started: liveness that does not mistake a
// zombie or a recycled pid for our process, and a graceful stop (SIGTERM, then SIGKILL after
// a grace period) of several processes at once.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace nextmini::launcher {

class ProcessControl {
 public:
  // Reaps `pid` if it is our exited child; true when it still runs (not a zombie).
  static bool is_alive(pid_t pid);
  // The process's command line (/proc/PID/cmdline split at NULs); empty when it is gone.
  static std::vector<std::string> command_line(pid_t pid);
  // True when `pid` runs `argv` (or its tail after `ip netns exec NS`, which execs the rest).
  static bool runs_command(pid_t pid, const std::vector<std::string>& argv);
  // SIGTERM every live pid, wait up to `grace`, then SIGKILL what is left and wait for it.
  // Returns the pids that had to be killed with SIGKILL.
  static std::vector<pid_t> stop(const std::vector<pid_t>& pids, std::chrono::milliseconds grace);
};

}  // namespace nextmini::launcher
