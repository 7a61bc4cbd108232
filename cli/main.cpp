// The `nextmini` command: one binary, one subcommand per job (see `nextmini --help`).

#include <algorithm>
#include <cstdio>

#include "command_registry.hpp"

namespace nextmini::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

}  // namespace nextmini::cli

int main(int argc, char** argv) {
  using nextmini::cli::command_registry;
  CLI::App app{"nextmini: a network emulation and experimentation testbed", "nextmini"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nextmini 0.1.0");

  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& entry : registry) entry.setup(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const nextmini::cli::CommandFailure& failure) {
    std::fprintf(stderr, "nextmini: %s\n", failure.message.c_str());
    return failure.exit_code;
  }
  return 0;
}
