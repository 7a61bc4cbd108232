#pragma once
// `nextmini up`: turns a NetworkPlan into a running network on this machine.
//   input:   the plan (nodes, addresses, port), the path of the `nextmini` binary, options
//   does:    lock the run directory, refuse if a network is already up, build the underlay
//            (UnderlayBuilder), start the controller in nm-ctl and every node in nm-n<N>
//            (logs in <run dir>/logs), record everything in state.json, poll the controller's
//            status file printing a progress line on each change, print a summary once the
//            controller reports topology_ready; then either return (--detach) or stay in the
//            foreground until SIGINT/SIGTERM and tear the network down.
//   fails:   (and tears down what it made) on a timeout, naming the nodes that are not ready
//            and their logs, or when a process exits during bring-up, with its log's tail.
// Also `restart`: start one node, or the controller, again with its recorded command line.

#include <chrono>
#include <cstdint>
#include <string>

#include "launcher_state.hpp"
#include "network_plan.hpp"
#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

struct UpOptions {
  std::chrono::milliseconds timeout{60'000};
  bool detach = false;
  std::chrono::milliseconds grace{3'000};  // SIGTERM -> SIGKILL during teardown
};

class NetworkLauncher {
 public:
  NetworkLauncher(RunDirectory run_dir, std::string nextmini_binary)
      : run_dir_(std::move(run_dir)), binary_(std::move(nextmini_binary)) {}

  // Runs the whole of `nextmini up`. Returns once detached, or after a foreground run ends.
  Result<void> up(const NetworkPlan& plan, const UpOptions& options);

  // Starts node `id` again with its recorded command line (stopping it first if it still
  // runs) and records the new pid. Returns the new pid.
  Result<pid_t> restart_node(std::uint32_t id);
  // The same for the controller, without `--reset-db` (a restart keeps the database: the
  // controller restores the network from it and the nodes reconnect to it).
  Result<pid_t> restart_controller();

 private:
  Result<void> check_nothing_running() const;
  // Stops `process` if it still runs its recorded command line, starts `argv` in its place.
  Result<pid_t> restart_process(LauncherState& state, ManagedProcess& process,
                                std::vector<std::string> argv);
  Result<void> start_processes(const NetworkPlan& plan, LauncherState& state);
  Result<void> await_ready(const NetworkPlan& plan, LauncherState& state, const UpOptions& options);
  void print_summary(const NetworkPlan& plan, const LauncherState& state) const;
  Result<void> run_foreground(const UpOptions& options);
  void tear_down(const std::optional<LauncherState>& state, const UpOptions& options,
                 bool quiet) const;

  RunDirectory run_dir_;
  std::string binary_;
};

// Installs SIGINT/SIGTERM/SIGHUP handlers that set a flag (checked by up's loops); ignores
// SIGPIPE.
void install_stop_signal_handlers();
bool stop_requested();

}  // namespace nextmini::launcher
