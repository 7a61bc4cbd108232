#pragma once
// Subcommands of the `nextmini` binary register themselves: each `*_command.cpp` in cli/ defines
//   static const nextmini::cli::CommandRegistration kRegistration{"name", order, &setup};
// where setup(app) adds the subcommand, its options, and its callback to the CLI11 app.
// `order` sorts the subcommands in --help. main.cpp knows none of them by name.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace nextmini::cli {

using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandEntry {
  std::string name;
  int order = 0;
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistration {
  CommandRegistration(std::string name, int order, CommandSetup setup) {
    command_registry().push_back({std::move(name), order, std::move(setup)});
  }
};

// A subcommand callback reports failure by throwing this; main prints `message` and exits with
// `exit_code` (2 for usage and config errors, 1 for run-time failures).
struct CommandFailure {
  std::string message;
  int exit_code = 1;
};

}  // namespace nextmini::cli
