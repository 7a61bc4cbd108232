// `nextmini restart NODE`: start node NODE's process again with the command line `nextmini up`
// recorded (stopping it first if it still runs), leaving every other process alone.

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "command_registry.hpp"
#include "launcher/network_launcher.hpp"

namespace nextmini::cli {
namespace {

struct RestartArgs {
  std::uint32_t node = 0;
};

void run_restart(const RestartArgs& args) {
  if (::geteuid() != 0) throw CommandFailure{"`nextmini restart` needs root", 1};
  launcher::NetworkLauncher network(launcher::RunDirectory::from_environment(), "");
  auto pid = network.restart_node(args.node);
  if (!pid) throw CommandFailure{pid.error().message, 1};
  std::printf("node %u restarted (pid %d)\n", args.node, *pid);
}

void setup(CLI::App& app) {
  auto args = std::make_shared<RestartArgs>();
  auto* command = app.add_subcommand(
      "restart", "Start one node of the running network again (e.g. after it was killed)");
  command->footer(
      "Runs node NODE's recorded command line again (stopping it first if it still runs); "
      "it rejoins the controller and its neighbours. Nothing else is restarted. Needs root.");
  command->add_option("node", args->node, "node id")->required()->check(CLI::PositiveNumber);
  command->callback([args] { run_restart(*args); });
}

const CommandRegistration kRegistration{"restart", 140, &setup};

}  // namespace
}  // namespace nextmini::cli
