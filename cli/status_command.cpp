// `nextmini status [--json]`: whether a network is up, its nodes (pids alive, addresses,
// namespaces, logs), the controller's flows (state, bytes, completion time) and its status file.

#include <fmt/format.h>

#include <cstdio>

#include "command_registry.hpp"
#include "launcher/controller_status.hpp"
#include "launcher/launcher_state.hpp"
#include "launcher/process_control.hpp"

namespace nextmini::cli {
namespace {

struct StatusArgs {
  bool json = false;
};

const char* liveness(const launcher::ManagedProcess& process) {
  if (process.argv.empty()) return "python mode";
  return launcher::ProcessControl::runs_command(process.pid, process.argv) ? "running"
                                                                           : "NOT RUNNING";
}

void run_status(const StatusArgs& args) {
  auto run_dir = launcher::RunDirectory::from_environment();
  auto state = launcher::read_state(run_dir.state_path());
  if (!state) throw CommandFailure{state.error().message, 1};
  if (!state->has_value()) {
    if (args.json) std::printf("{\"up\": false}\n");
    throw CommandFailure{"no network is up", 3};
  }
  const auto& recorded = **state;
  auto status = launcher::read_controller_status(recorded.status_file);
  if (args.json) {
    std::string controller_status = "null";
    if (status && status->has_value()) controller_status = (*status)->text;
    std::printf("{\"up\": true, \"state\": %s, \"controller_status\": %s}\n",
                launcher::encode_state(recorded).c_str(), controller_status.c_str());
    return;
  }
  std::printf("network up since %s (%s), config %s\n", recorded.started_at.c_str(),
              recorded.ready ? fmt::format("ready in {:.2f} s", recorded.ready_seconds).c_str()
                             : "not ready yet",
              recorded.config_path.c_str());
  std::printf("launcher: %s (pid %d)\n", recorded.detached ? "detached" : "foreground",
              recorded.launcher_pid);
  std::printf("  %-10s %-16s %-22s %-16s %-10s %-8s %-12s %s\n", "node", "overlay", "overlay6",
              "underlay", "namespace", "pid", "process", "log");
  std::printf("  %-10s %-16s %-22s %-16s %-10s %-8d %-12s %s\n", "controller",
              fmt::format("port {}", recorded.port).c_str(), "", "100.127.255.254",
              recorded.controller.netns.c_str(), recorded.controller.pid,
              liveness(recorded.controller), recorded.controller.log.c_str());
  for (const auto& node : recorded.nodes) {
    std::printf("  %-10u %-16s %-22s %-16s %-10s %-8d %-12s %s\n", node.id,
                node.overlay_address.c_str(),
                node.overlay_address6.empty() ? "-" : node.overlay_address6.c_str(),
                node.underlay_address.c_str(), node.process.netns.c_str(), node.process.pid,
                liveness(node.process), node.process.log.c_str());
  }
  if (!status) {
    std::printf("controller status file: %s\n", status.error().message.c_str());
  } else if (!status->has_value()) {
    std::printf("controller status file %s: not written yet\n", recorded.status_file.c_str());
  } else {
    const auto& current = **status;
    std::printf("controller: %s, topology %s, %u links, %u routes\n",
                current.progress_line().c_str(), current.topology_ready ? "ready" : "not ready",
                current.edges, current.routes);
    std::printf("http api: %s\n", current.http.empty()
                                      ? "off"
                                      : fmt::format("{} in namespace {} (use `nextmini ctl`)",
                                                    current.http, recorded.controller.netns)
                                            .c_str());
    for (const auto& error : current.errors) std::printf("controller error: %s\n", error.c_str());
    if (!current.flows.empty()) {
      std::printf("flows:\n  %-8s %-5s %-5s %-9s %-14s %s\n", "id", "src", "dst", "state", "bytes",
                  "completion");
      for (const auto& flow : current.flows) {
        const std::string completion =
            flow.completion_ms ? fmt::format("{:.1f} ms", *flow.completion_ms) : "-";
        std::printf("  %-8llu %-5u %-5u %-9s %-14llu %s%s\n",
                    static_cast<unsigned long long>(flow.id), flow.src, flow.dst,
                    flow.state.c_str(), static_cast<unsigned long long>(flow.bytes),
                    completion.c_str(), flow.error.empty() ? "" : ("  " + flow.error).c_str());
      }
    }
    std::printf("status file %s:\n%s", recorded.status_file.c_str(), current.text.c_str());
    if (!current.text.empty() && current.text.back() != '\n') std::printf("\n");
  }
}

void setup(CLI::App& app) {
  auto args = std::make_shared<StatusArgs>();
  auto* command = app.add_subcommand(
      "status", "Show the running network: nodes, addresses, processes, controller status");
  command->footer("Exit status 3 when no network is up.");
  command->add_flag("--json", args->json,
                    "print {\"up\", \"state\", \"controller_status\"} as JSON");
  command->callback([args] { run_status(*args); });
}

const CommandRegistration kRegistration{"status", 120, &setup};

}  // namespace
}  // namespace nextmini::cli
