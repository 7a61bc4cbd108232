// `nextmini restart NODE|controller`: start node NODE's process (or the controller's) again with
// the command line `nextmini up` recorded (stopping it first if it still runs), leaving every
// other process alone. The controller restarts without `--reset-db`.

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "command_registry.hpp"
#include "launcher/network_launcher.hpp"

namespace nextmini::cli {
namespace {

struct RestartArgs {
  std::string what;  // a node id or "controller"
};

void run_restart(const RestartArgs& args) {
  if (::geteuid() != 0) throw CommandFailure{"`nextmini restart` needs root", 1};
  launcher::NetworkLauncher network(launcher::RunDirectory::from_environment(), "");
  if (args.what == "controller") {
    auto pid = network.restart_controller();
    if (!pid) throw CommandFailure{pid.error().message, 1};
    std::printf("controller restarted (pid %d)\n", *pid);
    return;
  }
  const auto node = static_cast<std::uint32_t>(std::stoul(args.what));
  auto pid = network.restart_node(node);
  if (!pid) throw CommandFailure{pid.error().message, 1};
  std::printf("node %u restarted (pid %d)\n", node, *pid);
}

void setup(CLI::App& app) {
  auto args = std::make_shared<RestartArgs>();
  auto* command = app.add_subcommand(
      "restart",
      "Start one node, or the controller, of the running network again (e.g. after it was "
      "killed)");
  command->footer(
      "Runs node NODE's (or the controller's) recorded command line again, stopping it first "
      "if it still runs; a node rejoins the controller and its neighbours, the nodes reconnect "
      "to a restarted controller. The controller restarts without --reset-db: with --db it "
      "restores the network from the database. Nothing else is restarted. Needs root. Exit "
      "status 1 when no network is up or the process cannot be started.");
  command->add_option("node", args->what, "node id, or `controller`")
      ->required()
      ->check(CLI::PositiveNumber | CLI::IsMember({"controller"}));
  command->callback([args] { run_restart(*args); });
}

const CommandRegistration kRegistration{"restart", 140, &setup};

}  // namespace
}  // namespace nextmini::cli
