#pragma once
// Takes a network down completely, whether or not the launcher that made it is still around:
//   1. stops the recorded controller and node processes (only if the pid still runs the
//      recorded command), SIGTERM then SIGKILL after the grace period;
//   2. stops every process still inside an nm-* namespace (`ip netns pids`), e.g. iperf3
//      servers started with `nextmini exec`;
//   3. deletes every nm-* namespace (recorded or found by `ip netns list`), which removes the
//      veth pairs and the bridge inside them;
//   4. deletes any nmbr*/nmv* interface left in the root namespace;
//   5. removes state.json and the controller status file (logs are kept for post-mortems).
// Idempotent: with nothing to remove it reports nothing and succeeds.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "launcher_state.hpp"
#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

struct TeardownReport {
  std::vector<std::string> removed;  // one line per thing removed, for the user
  std::vector<std::string> errors;   // what could not be removed
};

class Teardown {
 public:
  static TeardownReport run(const RunDirectory& run_dir, const std::optional<LauncherState>& state,
                            std::chrono::milliseconds grace);
};

}  // namespace nextmini::launcher
