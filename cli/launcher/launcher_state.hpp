#pragma once
// What a running network is made of, recorded by `nextmini up` in <run dir>/state.json so the
// other subcommands (down, status, exec, restart) can find it from another process:
// the config, the controller's and every node's process (pid, command line, log, namespace,
// addresses) and the namespaces created. Written atomically (temporary file + rename).
// The run directory is /run/nextmini unless NEXTMINI_RUN_DIR names another one.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

struct ManagedProcess {
  std::string name;  // "controller" or "node 3"
  pid_t pid = 0;
  std::vector<std::string> argv;  // the full command line, including `ip netns exec NS`
  std::string log;
  std::string netns;
};

struct NodeRecord {
  std::uint32_t id = 0;
  std::string overlay_address;   // the node's TUN address, e.g. 10.0.0.3
  std::string overlay_address6;  // its IPv6 TUN address, e.g. fd00:6e6d::3 ("" = no IPv6)
  std::string underlay_address;  // eth0 in its namespace, e.g. 100.127.0.3
  ManagedProcess process;
};

struct LauncherState {
  std::string config_path;
  std::string started_at;  // UTC, ISO 8601
  std::int64_t started_at_unix = 0;
  pid_t launcher_pid = 0;
  bool detached = false;
  bool ready = false;
  bool stopping = false;  // set by `down` before it stops anything
  double ready_seconds = 0;
  std::uint16_t port = 0;
  std::string status_file;
  std::vector<std::string> namespaces;
  ManagedProcess controller;
  std::vector<NodeRecord> nodes;

  const NodeRecord* find_node(std::uint32_t id) const;
  NodeRecord* find_node(std::uint32_t id);
};

class RunDirectory {
 public:
  // NEXTMINI_RUN_DIR or /run/nextmini.
  static RunDirectory from_environment();
  explicit RunDirectory(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string state_path() const { return root_ + "/state.json"; }
  std::string status_path() const { return root_ + "/status.json"; }
  std::string lock_path() const { return root_ + "/lock"; }
  std::string log_dir() const { return root_ + "/logs"; }

  // Creates the directory and logs/ when missing.
  Result<void> ensure() const;

 private:
  std::string root_;
};

std::string encode_state(const LauncherState& state);
Result<LauncherState> decode_state(const std::string& text);

// Atomic write (temporary file in the same directory, then rename).
Result<void> write_state(const std::string& path, const LauncherState& state);
// nullopt when the file does not exist; an error when it exists but cannot be read or parsed.
Result<std::optional<LauncherState>> read_state(const std::string& path);

// Writes `text` to `path` atomically.
Result<void> write_file_atomically(const std::string& path, const std::string& text);

}  // namespace nextmini::launcher
