// `nextmini exec NODE -- CMD ARGS...`: run CMD inside node NODE's network namespace
// (`ip netns exec nm-n<NODE>`, exec'd so CMD's exit status is ours). NODE may also be `ctl`
// for the controller's namespace.

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>

#include "command_registry.hpp"
#include "launcher/command_runner.hpp"
#include "launcher/launcher_state.hpp"
#include "launcher/netns.hpp"
#include "launcher/underlay_plan.hpp"

namespace nextmini::cli {
namespace {

struct ExecArgs {
  std::string node;
  std::vector<std::string> command;
};

std::string namespace_of(const std::string& node) {
  if (node == "ctl" || node == "controller") return std::string(launcher::kControllerNamespace);
  std::uint32_t id = 0;
  auto [end, error] = std::from_chars(node.data(), node.data() + node.size(), id);
  if (error != std::errc{} || end != node.data() + node.size() || id == 0) {
    throw CommandFailure{
        fmt::format("'{}' is not a node id (a positive number, or `ctl` for the controller)", node),
        2};
  }
  return launcher::UnderlayPlan::node_namespace(id);
}

void run_exec(const ExecArgs& args) {
  std::string netns = namespace_of(args.node);
  if (!launcher::Netns::exists(netns)) {
    auto state = launcher::read_state(launcher::RunDirectory::from_environment().state_path());
    if (state && state->has_value()) {
      std::string ids;
      for (const auto& node : (*state)->nodes) {
        ids += (ids.empty() ? "" : ", ") + std::to_string(node.id);
      }
      throw CommandFailure{
          fmt::format("no node {} in the running network (nodes: {})", args.node, ids), 1};
    }
    throw CommandFailure{
        fmt::format("no node {}: no network is up (namespace {} does not exist)", args.node, netns),
        1};
  }
  if (::geteuid() != 0) throw CommandFailure{"`nextmini exec` needs root", 1};
  std::vector<std::string> argv = {"ip", "netns", "exec", netns};
  argv.insert(argv.end(), args.command.begin(), args.command.end());
  std::fflush(stdout);
  auto error = launcher::exec_replace(argv);
  throw CommandFailure{error.message, 127};
}

void setup(CLI::App& app) {
  auto args = std::make_shared<ExecArgs>();
  auto* command = app.add_subcommand("exec", "Run a command inside a node's network namespace");
  command->footer(
      "Example: nextmini exec 1 -- ping 10.0.0.3\nThe command's exit status is passed "
      "through. NODE `ctl` is the controller's namespace. Needs root.");
  command->add_option("node", args->node, "node id (or `ctl`)")->required();
  command->add_option("command", args->command, "the command and its arguments, after --")
      ->required();
  command->callback([args] { run_exec(*args); });
}

const CommandRegistration kRegistration{"exec", 130, &setup};

}  // namespace
}  // namespace nextmini::cli
