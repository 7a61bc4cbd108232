// `nextmini down`: stop every process and remove every namespace, interface and state file
// `nextmini up` made, also after the launcher crashed (see launcher/teardown.hpp).

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "command_registry.hpp"
#include "launcher/launcher_state.hpp"
#include "launcher/state_lock.hpp"
#include "launcher/teardown.hpp"

namespace nextmini::cli {
namespace {

struct DownArgs {
  double grace_seconds = 3;
};

void run_down(const DownArgs& args) {
  if (::geteuid() != 0) throw CommandFailure{"`nextmini down` needs root", 1};
  auto run_dir = launcher::RunDirectory::from_environment();
  if (auto made = run_dir.ensure(); !made) throw CommandFailure{made.error().message, 1};
  auto lock = launcher::StateLock::acquire(run_dir.lock_path(), "down", 30'000);
  if (!lock) throw CommandFailure{lock.error().message, 1};
  auto state = launcher::read_state(run_dir.state_path());
  std::optional<launcher::LauncherState> recorded;
  if (state) {
    recorded = *state;
    if (recorded) {
      // Tell a foreground `up` that what follows is deliberate.
      recorded->stopping = true;
      (void)launcher::write_state(run_dir.state_path(), *recorded);
    }
  } else {
    // A corrupt state file must not stop the clean-up: the namespaces are found anyway.
    std::fprintf(stderr, "nextmini: %s; cleaning up what can be found\n",
                 state.error().message.c_str());
  }
  auto report = launcher::Teardown::run(
      run_dir, recorded, std::chrono::milliseconds(static_cast<long>(args.grace_seconds * 1000)));
  if (report.removed.empty() && report.errors.empty()) {
    std::printf("nothing to take down: no network is up\n");
    return;
  }
  for (const auto& line : report.removed) std::printf("%s\n", line.c_str());
  if (!report.errors.empty()) {
    std::string message = "could not remove everything:";
    for (const auto& error : report.errors) message += "\n  " + error;
    throw CommandFailure{message, 1};
  }
  std::printf("network down\n");
}

void setup(CLI::App& app) {
  auto args = std::make_shared<DownArgs>();
  auto* command = app.add_subcommand(
      "down", "Stop the running network and remove everything `nextmini up` made");
  command->footer(
      "Stops the controller and node processes (SIGTERM, then SIGKILL after --grace), every "
      "process inside an nm-* network namespace, deletes those namespaces and any leftover "
      "nmbr*/nmv* interface, and removes the state file. Works after a launcher crash too; "
      "safe to repeat. Logs stay in /run/nextmini/logs (or $NEXTMINI_RUN_DIR/logs). Needs "
      "root. Exit status 1 when something could not be stopped or removed (it says what).");
  command->add_option("--grace", args->grace_seconds, "seconds between SIGTERM and SIGKILL")
      ->capture_default_str();
  command->callback([args] { run_down(*args); });
}

const CommandRegistration kRegistration{"down", 110, &setup};

}  // namespace
}  // namespace nextmini::cli
