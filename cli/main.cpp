// The `nextmini` command: one binary, one subcommand per job (see `nextmini --help`).

#include <algorithm>
#include <cstdio>
#include <string>

#include "command_registry.hpp"

namespace nextmini::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

namespace {

// The deepest subcommand the command line reached ("nextmini ctl link set"), or `app` itself.
CLI::App* deepest_parsed(CLI::App* app) {
  for (CLI::App* sub : app->get_subcommands()) return deepest_parsed(sub);
  return app;
}

std::string command_path(CLI::App* app) {
  std::string path = app->get_name();
  for (CLI::App* parent = app->get_parent(); parent != nullptr; parent = parent->get_parent())
    path = parent->get_name() + " " + path;
  return path;
}

// A command line CLI11 refused: one line naming what was wrong and where --help is, exit
// status 2 (the project's status for usage errors). An unknown option is named even when CLI11
// would first complain that a required argument is missing; help and --version exit 0.
int report_usage_error(CLI::App& app, const CLI::ParseError& error) {
  if (error.get_exit_code() == 0) return app.exit(error);
  CLI::App* where = deepest_parsed(&app);
  const std::string path = command_path(where);
  std::string what = error.what();
  // What no subcommand took: with fallthrough() an unknown option lands in a parent's list.
  for (CLI::App* level = where; level != nullptr; level = level->get_parent()) {
    const std::vector<std::string> extras = level->remaining();
    if (extras.empty()) continue;
    const std::string& extra = extras.front();
    if (extra.size() > 1 && extra[0] == '-') {
      what = "unknown option " + extra;
    } else if (level == &app && where == &app) {
      what = "unknown command " + extra;
    } else {
      what = "unexpected argument " + extra;
    }
    break;
  }
  std::fprintf(stderr, "%s: %s (see %s --help)\n", path.c_str(), what.c_str(), path.c_str());
  return 2;
}

}  // namespace
}  // namespace nextmini::cli

int main(int argc, char** argv) {
  using nextmini::cli::command_registry;
  CLI::App app{"nextmini: a network emulation and experimentation testbed", "nextmini"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nextmini 0.1.0");
  app.footer(
      "`nextmini SUBCOMMAND --help` describes a subcommand. Exit status: 0 on success, 2 for a "
      "usage or config error (an unknown option or subcommand, a bad value), 1 for a run-time "
      "failure; some subcommands add their own (their --help says). Environment: "
      "NEXTMINI_RUN_DIR (state and logs of `up`, default /run/nextmini), DATABASE_URL (the "
      "controller's --db when not given). Docs: README.md, docs/.");

  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  for (const auto& entry : registry) entry.setup(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return nextmini::cli::report_usage_error(app, error);
  } catch (const nextmini::cli::CommandFailure& failure) {
    std::fprintf(stderr, "nextmini: %s\n", failure.message.c_str());
    return failure.exit_code;
  }
  return 0;
}
