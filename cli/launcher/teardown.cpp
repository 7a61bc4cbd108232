#include "teardown.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "command_runner.hpp"
#include "netns.hpp"
#include "process_control.hpp"
#include "underlay_plan.hpp"

namespace nextmini::launcher {
namespace {

void stop_processes(const std::vector<pid_t>& pids, const std::vector<std::string>& names,
                    std::chrono::milliseconds grace, TeardownReport& report) {
  auto killed = ProcessControl::stop(pids, grace);
  for (std::size_t i = 0; i < pids.size(); ++i) {
    bool forced = std::find(killed.begin(), killed.end(), pids[i]) != killed.end();
    report.removed.push_back(
        fmt::format("stopped {} (pid {}{})", names[i], pids[i], forced ? ", with SIGKILL" : ""));
    if (ProcessControl::is_alive(pids[i])) {
      report.errors.push_back(fmt::format("{} (pid {}) is still running", names[i], pids[i]));
    }
  }
}

}  // namespace

TeardownReport Teardown::run(const RunDirectory& run_dir, const std::optional<LauncherState>& state,
                             std::chrono::milliseconds grace) {
  TeardownReport report;

  // 1. The recorded processes.
  if (state) {
    std::vector<pid_t> pids;
    std::vector<std::string> names;
    auto consider = [&](const ManagedProcess& process) {
      if (process.pid > 0 && ProcessControl::runs_command(process.pid, process.argv)) {
        pids.push_back(process.pid);
        names.push_back(process.name);
      }
    };
    for (const auto& node : state->nodes) consider(node.process);
    consider(state->controller);
    stop_processes(pids, names, grace, report);
  }

  // 2. and 3. Every launcher namespace: what is recorded plus what `ip netns list` shows.
  std::vector<std::string> namespaces;
  if (state) namespaces = state->namespaces;
  if (auto listed = Netns::list()) {
    for (const auto& name : *listed) {
      if (UnderlayPlan::is_launcher_namespace(name) &&
          std::find(namespaces.begin(), namespaces.end(), name) == namespaces.end()) {
        namespaces.push_back(name);
      }
    }
  } else {
    report.errors.push_back(listed.error().message);
  }
  // Nodes first, the controller namespace (holding the bridge) last.
  std::stable_partition(namespaces.begin(), namespaces.end(),
                        [](const std::string& name) { return name != kControllerNamespace; });

  std::vector<pid_t> inside;
  std::vector<std::string> inside_names;
  for (const auto& name : namespaces) {
    if (!Netns::exists(name)) continue;
    auto pids = Netns::pids(name);
    if (!pids) {
      report.errors.push_back(pids.error().message);
      continue;
    }
    for (pid_t pid : *pids) {
      if (pid == ::getpid()) continue;
      auto argv = ProcessControl::command_line(pid);
      inside.push_back(pid);
      inside_names.push_back(
          fmt::format("'{}' in {}", argv.empty() ? std::string("?") : join_command(argv), name));
    }
  }
  if (!inside.empty()) stop_processes(inside, inside_names, grace, report);

  for (const auto& name : namespaces) {
    if (!Netns::exists(name)) continue;
    if (auto removed = Netns::remove(name); removed) {
      report.removed.push_back(fmt::format("deleted network namespace {}", name));
    } else {
      report.errors.push_back(removed.error().message);
    }
  }

  // 4. Interfaces of ours in the root namespace (only if a crash interrupted a veth creation).
  if (auto links = Netns::links("")) {
    for (const auto& link : *links) {
      if (!UnderlayPlan::is_launcher_interface(link)) continue;
      if (auto deleted = run_checked({"ip", "link", "delete", link}); deleted) {
        report.removed.push_back(fmt::format("deleted interface {}", link));
      } else {
        report.errors.push_back(deleted.error().message);
      }
    }
  } else {
    report.errors.push_back(links.error().message);
  }

  // 5. The state and the controller's status file.
  for (const auto& path : {run_dir.state_path(), run_dir.status_path()}) {
    if (::access(path.c_str(), F_OK) == 0) {
      if (std::remove(path.c_str()) == 0) {
        report.removed.push_back(fmt::format("removed {}", path));
      } else {
        report.errors.push_back(fmt::format("cannot remove {}", path));
      }
    }
  }
  return report;
}

}  // namespace nextmini::launcher
