#pragma once
// Runs external programs for the launcher with fork/execvp (never system()): short commands
// whose output and exit code are checked (`ip netns add …`), and long-lived processes that are
// detached into their own session with stdout/stderr appended to a log file (controller, nodes).
// Errors name the command, its exit status and what it printed, so a user can act on them.

#include <sys/types.h>

#include <string>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

struct CommandOutput {
  int exit_code = 0;   // 128 + signal number when the command was killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` to completion and returns its exit code and output. Fails only when the command
// could not be started at all (for example, the program does not exist).
Result<CommandOutput> run_command(const std::vector<std::string>& argv);

// Runs `argv` and fails with a clear message unless it exits with status 0.
Result<std::string> run_checked(const std::vector<std::string>& argv);

// Starts `argv` in a new session (so a Ctrl-C at the launcher's terminal does not reach it),
// stdin from /dev/null, stdout and stderr appended to `log_path`. Returns its pid.
Result<pid_t> spawn_logged(const std::vector<std::string>& argv, const std::string& log_path);

// Replaces the current process with `argv` (execvp); returns only on failure.
Error exec_replace(const std::vector<std::string>& argv);

// "ip netns add nm-ctl": argv joined with spaces, for messages and logs.
std::string join_command(const std::vector<std::string>& argv);

// The absolute path of the running executable (/proc/self/exe), so child processes started in
// other namespaces run the very same `nextmini` binary.
std::string self_executable();

// The last `max_lines` lines of a text file (for reporting why a process died).
std::string tail_file(const std::string& path, std::size_t max_lines);

}  // namespace nextmini::launcher
