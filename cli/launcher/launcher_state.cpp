#include "launcher_state.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "json_text.hpp"

namespace nextmini::launcher {
namespace {

std::string encode_argv(const std::vector<std::string>& argv) {
  std::string result = "[";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) result += ", ";
    result += json_quote(argv[i]);
  }
  return result + "]";
}

std::string encode_process(const ManagedProcess& process, std::string_view indent) {
  return fmt::format(
      "{{\n{0}  \"name\": {1},\n{0}  \"pid\": {2},\n{0}  \"argv\": {3},\n{0}  \"log\": {4},\n"
      "{0}  \"netns\": {5}\n{0}}}",
      indent, json_quote(process.name), process.pid, encode_argv(process.argv),
      json_quote(process.log), json_quote(process.netns));
}

// Reads a value the state file must have, naming the key when it is missing or malformed.
template <typename T>
Result<T> required(const JsonObject& object, const std::string& key, const std::string& where) {
  const JsonValue* value = object.if_contains(key);
  if (value == nullptr)
    return fail("launcher.state", fmt::format("{}: missing key '{}'", where, key));
  std::optional<T> typed;
  if constexpr (std::is_same_v<T, std::string>) {
    if (value->is_string()) typed = std::string(value->get_string());
  } else {
    typed = json_number<T>(*value);
  }
  if (!typed) {
    return fail("launcher.state",
                fmt::format("{}.{}: {} has the wrong type", where, key, json_shown(*value)));
  }
  return *typed;
}

// A required object member.
Result<const JsonObject*> required_object(const JsonObject& object, const std::string& key,
                                          const std::string& where) {
  const JsonValue* value = object.if_contains(key);
  if (value == nullptr || !value->is_object()) {
    return fail("launcher.state", fmt::format("{}: missing key '{}'", where, key));
  }
  return &value->get_object();
}

// The strings of a list member (other items are skipped); empty when it is absent.
std::vector<std::string> strings(const JsonObject& object, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* value = object.if_contains(key); value && value->is_array()) {
    for (const auto& item : value->get_array()) {
      if (item.is_string()) out.emplace_back(item.get_string());
    }
  }
  return out;
}

Result<ManagedProcess> decode_process(const JsonObject& object, const std::string& where) {
  ManagedProcess process;
  auto name = required<std::string>(object, "name", where);
  if (!name) return Failure{name.error()};
  process.name = *name;
  auto pid = required<long>(object, "pid", where);
  if (!pid) return Failure{pid.error()};
  process.pid = static_cast<pid_t>(*pid);
  if (const auto* argv = object.if_contains("argv"); argv == nullptr || !argv->is_array()) {
    return fail("launcher.state", fmt::format("{}: missing key 'argv'", where));
  }
  process.argv = strings(object, "argv");
  process.log = json_string_or(object, "log", "");
  process.netns = json_string_or(object, "netns", "");
  return process;
}

}  // namespace

const NodeRecord* LauncherState::find_node(std::uint32_t id) const {
  for (const auto& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

NodeRecord* LauncherState::find_node(std::uint32_t id) {
  for (auto& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

RunDirectory RunDirectory::from_environment() {
  const char* root = std::getenv("NEXTMINI_RUN_DIR");
  return RunDirectory(root != nullptr && *root != '\0' ? root : "/run/nextmini");
}

Result<void> RunDirectory::ensure() const {
  for (const auto& dir : {root_, log_dir()}) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail("launcher.state",
                  fmt::format("cannot create directory {}: {}", dir, std::strerror(errno)));
    }
  }
  return ok();
}

std::string encode_state(const LauncherState& state) {
  std::string out = "{\n";
  out += fmt::format("  \"version\": 1,\n");
  out += fmt::format("  \"config\": {},\n", json_quote(state.config_path));
  out += fmt::format("  \"started_at\": {},\n", json_quote(state.started_at));
  out += fmt::format("  \"started_at_unix\": {},\n", state.started_at_unix);
  out += fmt::format("  \"launcher_pid\": {},\n", state.launcher_pid);
  out += fmt::format("  \"detached\": {},\n", state.detached);
  out += fmt::format("  \"ready\": {},\n", state.ready);
  out += fmt::format("  \"stopping\": {},\n", state.stopping);
  out += fmt::format("  \"ready_seconds\": {:.3f},\n", state.ready_seconds);
  out += fmt::format("  \"port\": {},\n", state.port);
  out += fmt::format("  \"status_file\": {},\n", json_quote(state.status_file));
  out += fmt::format("  \"namespaces\": {},\n", encode_argv(state.namespaces));
  out += fmt::format("  \"controller\": {},\n", encode_process(state.controller, "  "));
  out += "  \"nodes\": [";
  for (std::size_t i = 0; i < state.nodes.size(); ++i) {
    const auto& node = state.nodes[i];
    out += i == 0 ? "\n" : ",\n";
    out += fmt::format(
        "    {{\n      \"id\": {},\n      \"overlay\": {},\n      \"overlay6\": {},\n"
        "      \"underlay\": {},\n      \"process\": {}\n    }}",
        node.id, json_quote(node.overlay_address), json_quote(node.overlay_address6),
        json_quote(node.underlay_address), encode_process(node.process, "      "));
  }
  out += state.nodes.empty() ? "]\n" : "\n  ]\n";
  out += "}\n";
  return out;
}

Result<LauncherState> decode_state(const std::string& text) {
  auto parsed = parse_json(text, "state file");
  if (!parsed) return Failure{parsed.error()};
  const JsonObject& tree = *parsed;
  LauncherState state;
  auto config = required<std::string>(tree, "config", "state");
  if (!config) return Failure{config.error()};
  state.config_path = *config;
  state.started_at = json_string_or(tree, "started_at", "");
  state.started_at_unix = json_number_or<std::int64_t>(tree, "started_at_unix", 0);
  state.launcher_pid = static_cast<pid_t>(json_number_or<long>(tree, "launcher_pid", 0));
  state.detached = json_bool_or(tree, "detached", false);
  state.ready = json_bool_or(tree, "ready", false);
  state.stopping = json_bool_or(tree, "stopping", false);
  state.ready_seconds = json_number_or<double>(tree, "ready_seconds", 0.0);
  auto port = required<unsigned>(tree, "port", "state");
  if (!port) return Failure{port.error()};
  state.port = static_cast<std::uint16_t>(*port);
  state.status_file = json_string_or(tree, "status_file", "");
  state.namespaces = strings(tree, "namespaces");
  auto controller_object = required_object(tree, "controller", "state");
  if (!controller_object) return Failure{controller_object.error()};
  auto controller = decode_process(**controller_object, "state.controller");
  if (!controller) return Failure{controller.error()};
  state.controller = std::move(*controller);
  if (const auto* nodes = tree.if_contains("nodes"); nodes && nodes->is_array()) {
    std::size_t index = 0;
    for (const auto& item : nodes->get_array()) {
      std::string where = fmt::format("state.nodes[{}]", index++);
      if (!item.is_object()) return fail("launcher.state", where + ": not an object");
      const JsonObject& node_object = item.get_object();
      NodeRecord node;
      auto id = required<std::uint32_t>(node_object, "id", where);
      if (!id) return Failure{id.error()};
      node.id = *id;
      node.overlay_address = json_string_or(node_object, "overlay", "");
      node.overlay_address6 = json_string_or(node_object, "overlay6", "");
      node.underlay_address = json_string_or(node_object, "underlay", "");
      auto process_object = required_object(node_object, "process", where);
      if (!process_object) return Failure{process_object.error()};
      auto process = decode_process(**process_object, where + ".process");
      if (!process) return Failure{process.error()};
      node.process = std::move(*process);
      state.nodes.push_back(std::move(node));
    }
  }
  return state;
}

Result<void> write_file_atomically(const std::string& path, const std::string& text) {
  std::string temporary = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      return fail("launcher.state",
                  fmt::format("cannot write {}: {}", temporary, std::strerror(errno)));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    std::remove(temporary.c_str());
    return fail("launcher.state",
                fmt::format("cannot rename {} to {}: {}", temporary, path, std::strerror(error)));
  }
  return ok();
}

Result<void> write_state(const std::string& path, const LauncherState& state) {
  return write_file_atomically(path, encode_state(state));
}

Result<std::optional<LauncherState>> read_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<LauncherState>{};
    return fail("launcher.state", fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto state = decode_state(buffer.str());
  if (!state) {
    return fail("launcher.state", fmt::format("{}: {}", path, state.error().message));
  }
  return std::optional<LauncherState>{std::move(*state)};
}

}  // namespace nextmini::launcher
