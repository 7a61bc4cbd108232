#pragma once
// Network-namespace operations the launcher needs, done with iproute2 (`ip`) through
// CommandRunner so every failure names the command and what it printed:
//   create/remove/list named namespaces (/run/netns), the pids inside one, links in one,
//   and running a batch of `ip` commands inside a namespace in one process (`ip -n NS -batch`).

#include <sys/types.h>

#include <string>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

class Netns {
 public:
  // `ip netns add NAME` and bring up its loopback interface.
  static Result<void> create(const std::string& name);
  // `ip netns delete NAME`; succeeds when the namespace is already gone.
  static Result<void> remove(const std::string& name);
  static bool exists(const std::string& name);
  // Every named namespace (`ip netns list`), in the order ip prints them.
  static Result<std::vector<std::string>> list();
  // Processes whose network namespace is NAME (`ip netns pids NAME`).
  static Result<std::vector<pid_t>> pids(const std::string& name);
  // Interface names in NAME, or in the root namespace when NAME is empty (`ip -o link show`).
  static Result<std::vector<std::string>> links(const std::string& name);
  // Moves the calling thread into NAME's network namespace (setns); sockets it opens afterwards
  // live there. Needs CAP_SYS_ADMIN. Error "netns.enter" naming the namespace and the reason.
  static Result<void> enter(const std::string& name);
  // Runs `ip [-n NAME] -batch FILE` with one command per line ("link set lo up").
  static Result<void> batch(const std::string& name, const std::vector<std::string>& commands);
};

}  // namespace nextmini::launcher
