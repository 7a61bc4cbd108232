#include "network_launcher.hpp"

#include <dirent.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include "command_runner.hpp"
#include "controller_status.hpp"
#include "netns.hpp"
#include "process_control.hpp"
#include "state_lock.hpp"
#include "teardown.hpp"
#include "underlay_builder.hpp"
#include "underlay_plan.hpp"

namespace nextmini::launcher {
namespace {

std::atomic<int> g_stop_signal{0};

void on_stop_signal(int signal) { g_stop_signal.store(signal); }

constexpr std::chrono::milliseconds kPollInterval{50};
constexpr std::size_t kLogTailLines = 20;

// How a child that has exited ended ("exit status 1", "killed by signal 9"), or empty while
// it still runs. Reaps it when it is our child.
std::string exit_description(pid_t pid) {
  if (pid <= 0) return {};  // never waitpid(0 or -1): that would reap any child
  int status = 0;
  pid_t got = ::waitpid(pid, &status, WNOHANG);
  if (got == pid) {
    if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return "ended";
  }
  if (got == 0) return {};
  return ProcessControl::is_alive(pid) ? std::string() : std::string("ended");
}

std::string died_message(const ManagedProcess& process, const std::string& how) {
  std::string tail = tail_file(process.log, kLogTailLines);
  return fmt::format("{} (pid {}) exited during bring-up ({}); last lines of {}:\n{}", process.name,
                     process.pid, how, process.log, tail.empty() ? "  (the log is empty)\n" : tail);
}

void clear_logs(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return;
  while (auto* entry = ::readdir(handle)) {
    std::string name = entry->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".log") {
      std::remove((dir + "/" + name).c_str());
    }
  }
  ::closedir(handle);
}

std::string list_ids(const std::vector<std::uint32_t>& ids) {
  std::string text;
  for (auto id : ids) text += (text.empty() ? "" : ", ") + std::to_string(id);
  return text;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
  // A closed stdout (`nextmini up | head`) must not kill the launcher and strand the network.
  ::signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() { return g_stop_signal.load() != 0; }

Result<void> NetworkLauncher::check_nothing_running() const {
  auto existing = read_state(run_dir_.state_path());
  if (!existing) {
    return fail("launcher.state",
                fmt::format("{}; run `nextmini down` to clean up", existing.error().message));
  }
  if (existing->has_value()) {
    const auto& state = **existing;
    return fail("launcher.already_up",
                fmt::format("a network is already up ({} nodes, started at {} from {}); run "
                            "`nextmini down` first",
                            state.nodes.size(), state.started_at, state.config_path));
  }
  auto namespaces = Netns::list();
  if (!namespaces) return Failure{namespaces.error()};
  std::vector<std::string> leftovers;
  for (const auto& name : *namespaces) {
    if (UnderlayPlan::is_launcher_namespace(name)) leftovers.push_back(name);
  }
  if (!leftovers.empty()) {
    std::string names;
    for (const auto& name : leftovers) names += (names.empty() ? "" : ", ") + name;
    return fail("launcher.leftovers",
                fmt::format("network namespaces from an earlier run still exist ({}); run "
                            "`nextmini down` first",
                            names));
  }
  return ok();
}

void NetworkLauncher::tear_down(const std::optional<LauncherState>& state, const UpOptions& options,
                                bool quiet) const {
  auto report = Teardown::run(run_dir_, state, options.grace);
  if (!quiet) {
    std::printf("removed: %zu processes/namespaces/files\n", report.removed.size());
  }
  for (const auto& error : report.errors)
    std::fprintf(stderr, "nextmini: teardown: %s\n", error.c_str());
}

Result<void> NetworkLauncher::start_processes(const NetworkPlan& plan, LauncherState& state) {
  std::string url = fmt::format("ws://{}:{}", kControllerUnderlayAddress, plan.port);

  state.controller.name = "controller";
  state.controller.netns = std::string(kControllerNamespace);
  state.controller.log = run_dir_.log_dir() + "/controller.log";
  state.controller.argv = {"ip",
                           "netns",
                           "exec",
                           state.controller.netns,
                           binary_,
                           "controller",
                           "--config",
                           plan.config_path,
                           "--port",
                           std::to_string(plan.port),
                           "--listen",  // whatever the config says: nodes dial the bridge
                           "0.0.0.0",
                           "--status-file",
                           run_dir_.status_path()};
  if (!plan.db_url.empty()) {
    state.controller.argv.push_back("--db");
    state.controller.argv.push_back(plan.db_url);
  }
  if (plan.reset_db) state.controller.argv.push_back("--reset-db");
  auto controller_pid = spawn_logged(state.controller.argv, state.controller.log);
  if (!controller_pid) return Failure{controller_pid.error()};
  state.controller.pid = *controller_pid;
  if (auto written = write_state(run_dir_.state_path(), state); !written) return written;

  for (std::size_t i = 0; i < plan.node_ids.size(); ++i) {
    std::uint32_t id = plan.node_ids[i];
    NodeRecord node;
    node.id = id;
    node.overlay_address = plan.overlay_addresses[i];
    if (i < plan.overlay_addresses6.size()) node.overlay_address6 = plan.overlay_addresses6[i];
    node.underlay_address = UnderlayPlan::node_underlay_address(id);
    node.process.name = fmt::format("node {}", id);
    node.process.netns = UnderlayPlan::node_namespace(id);
    node.process.log = fmt::format("{}/node-{}.log", run_dir_.log_dir(), id);
    node.process.argv = {
        "ip",           "netns", "exec", node.process.netns, binary_,    "node",
        "--controller", url,     "--id", std::to_string(id), "--listen", node.underlay_address};
    if (i < plan.workers.size()) {
      node.process.argv.push_back("--workers");
      node.process.argv.push_back(std::to_string(plan.workers[i]));
    }
    if (!plan.token.empty()) {
      node.process.argv.push_back("--token");
      node.process.argv.push_back(plan.token);
    }
    bool external = std::find(plan.external_nodes.begin(), plan.external_nodes.end(), id) !=
                    plan.external_nodes.end();
    if (external) {
      node.process.name = fmt::format("node {} (python mode, not started by the launcher)", id);
      node.process.argv.clear();
    } else {
      auto pid = spawn_logged(node.process.argv, node.process.log);
      if (!pid) return Failure{pid.error()};
      node.process.pid = *pid;
    }
    state.nodes.push_back(std::move(node));
  }
  return write_state(run_dir_.state_path(), state);
}

Result<void> NetworkLauncher::await_ready(const NetworkPlan& plan, LauncherState& state,
                                          const UpOptions& options) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + options.timeout;
  std::string last_line;
  std::size_t errors_shown = 0;
  std::optional<ControllerStatus> last_status;
  for (;;) {
    if (stop_requested()) return fail("launcher.interrupted", "interrupted during bring-up");

    // A process that ends during bring-up ends the bring-up.
    std::vector<const ManagedProcess*> processes = {&state.controller};
    for (const auto& node : state.nodes) processes.push_back(&node.process);
    for (const auto* process : processes) {
      std::string how = exit_description(process->pid);
      if (!how.empty()) return fail("launcher.process_exited", died_message(*process, how));
    }

    auto status = read_controller_status(run_dir_.status_path());
    if (!status) {
      // The controller rewrites the file atomically, so this is a real format problem.
      return fail("launcher.status", status.error().message);
    }
    if (status->has_value()) {
      const auto& current = **status;
      for (; errors_shown < current.errors.size(); ++errors_shown) {
        std::printf("controller: %s\n", current.errors[errors_shown].c_str());
      }
      std::string line = current.progress_line();
      if (line != last_line) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        last_line = line;
      }
      last_status = current;
      if (current.topology_ready) {
        state.ready = true;
        state.ready_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return write_state(run_dir_.state_path(), state);
      }
    }

    if (std::chrono::steady_clock::now() >= deadline) {
      std::string message =
          fmt::format("the network was not ready after {} s", options.timeout.count() / 1000.0);
      if (!last_status) {
        message += fmt::format(": the controller never wrote its status file {}; see {}",
                               run_dir_.status_path(), state.controller.log);
        return fail("launcher.timeout", message);
      }
      std::vector<std::uint32_t> not_ready;
      if (last_status->ready_ids) {
        for (auto id : plan.node_ids) {
          if (std::find(last_status->ready_ids->begin(), last_status->ready_ids->end(), id) ==
              last_status->ready_ids->end()) {
            not_ready.push_back(id);
          }
        }
      }
      message += fmt::format(" ({})", last_status->progress_line());
      if (!plan.external_nodes.empty()) {
        message +=
            fmt::format("; python-mode nodes, which you start yourself in their namespaces: {}",
                        list_ids(plan.external_nodes));
      }
      if (!not_ready.empty()) {
        message += fmt::format("; nodes not ready: {}", list_ids(not_ready));
        constexpr std::size_t kListed = 20;
        for (std::size_t i = 0; i < not_ready.size() && i < kListed; ++i) {
          const NodeRecord* node = state.find_node(not_ready[i]);
          if (node->process.argv.empty()) {
            message +=
                fmt::format("\n  node {}: python mode, not started by the launcher", node->id);
          } else {
            message += fmt::format("\n  node {}: see {}", node->id, node->process.log);
          }
        }
        if (not_ready.size() > kListed) {
          message += fmt::format("\n  ... and {} more", not_ready.size() - kListed);
        }
      } else {
        message += fmt::format("; see the logs in {}", run_dir_.log_dir());
      }
      message += fmt::format("\n  controller: see {}", state.controller.log);
      return fail("launcher.timeout", message);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void NetworkLauncher::print_summary(const NetworkPlan& plan, const LauncherState& state) const {
  auto status = read_controller_status(run_dir_.status_path());
  std::uint32_t routes = status && status->has_value() ? (*status)->routes : 0;
  std::printf("network ready in %.2f s: %zu nodes, %zu links, %u routes (config %s)\n",
              state.ready_seconds, state.nodes.size(), plan.links.size(), routes,
              state.config_path.c_str());
  std::printf("  %-10s %-16s %-22s %-16s %-10s %s\n", "node", "overlay", "overlay6", "underlay",
              "namespace", "pid");
  for (const auto& node : state.nodes) {
    std::printf("  %-10u %-16s %-22s %-16s %-10s %d\n", node.id, node.overlay_address.c_str(),
                node.overlay_address6.empty() ? "-" : node.overlay_address6.c_str(),
                node.underlay_address.c_str(), node.process.netns.c_str(), node.process.pid);
  }
  if (!plan.external_nodes.empty()) {
    std::printf("python-mode nodes (pid 0, not started by the launcher): %s\n",
                list_ids(plan.external_nodes).c_str());
  }
  std::printf("  %-10s %-16s %-22s %-16s %-10s %d\n", "controller",
              fmt::format("ws port {}", state.port).c_str(), "",
              std::string(kControllerUnderlayAddress).c_str(), state.controller.netns.c_str(),
              state.controller.pid);
  std::string links;
  for (const auto& [a, b] : plan.links) {
    links += fmt::format("{}{}-{}", links.empty() ? "" : " ", a, b);
  }
  if (!links.empty()) std::printf("links: %s\n", links.c_str());
  std::printf("logs: %s/\n", run_dir_.log_dir().c_str());
  if (status && status->has_value() && !(*status)->http.empty()) {
    std::printf("http api: %s in %s (nextmini ctl link show; docs/http-api.md)\n",
                (*status)->http.c_str(), state.controller.netns.c_str());
  }
  if (state.nodes.size() >= 2) {
    std::printf("try: nextmini exec %u -- ping %s\n", state.nodes.front().id,
                state.nodes.back().overlay_address.c_str());
  }
  std::fflush(stdout);
}

Result<void> NetworkLauncher::up(const NetworkPlan& plan, const UpOptions& options) {
  if (plan.node_ids.empty()) return fail("launcher.plan", "the topology has no nodes");
  if (plan.node_ids.size() != plan.overlay_addresses.size()) {
    return fail("launcher.plan", "internal error: one overlay address per node expected");
  }
  for (auto id : plan.node_ids) {
    if (id == 0 || id > kMaxNodes) {
      return fail(
          "launcher.plan",
          fmt::format("node id {} is outside 1..{} that the underlay supports", id, kMaxNodes));
    }
  }
  if (auto made = run_dir_.ensure(); !made) return made;
  auto lock = StateLock::try_acquire(run_dir_.lock_path(), "up");
  if (!lock) return Failure{lock.error()};
  if (auto clear = check_nothing_running(); !clear) return clear;

  install_stop_signal_handlers();
  clear_logs(run_dir_.log_dir());
  std::remove(run_dir_.status_path().c_str());

  LauncherState state;
  state.config_path = plan.config_path;
  auto now = std::chrono::system_clock::now();
  state.started_at_unix =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::time_t now_t = static_cast<std::time_t>(state.started_at_unix);
  state.started_at = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(now_t));
  state.launcher_pid = ::getpid();
  state.detached = options.detach;
  state.port = plan.port;
  state.status_file = run_dir_.status_path();
  state.namespaces = UnderlayBuilder::namespaces(plan.node_ids);
  // Recorded before anything is made, so `nextmini down` can clean up after a crash here.
  if (auto written = write_state(run_dir_.state_path(), state); !written) return written;

  std::printf("bringing up %zu nodes from %s\n", plan.node_ids.size(), plan.config_path.c_str());
  std::fflush(stdout);
  auto failed = [&](const Error& error) -> Result<void> {
    std::fprintf(stderr, "bring-up failed; tearing the network down\n");
    tear_down(state, options, true);
    return Failure{error};
  };

  if (auto built = UnderlayBuilder::build(plan.node_ids); !built) return failed(built.error());
  if (auto started = start_processes(plan, state); !started) return failed(started.error());
  if (auto ready = await_ready(plan, state, options); !ready) return failed(ready.error());
  print_summary(plan, state);
  lock->release();

  if (options.detach) {
    std::printf("detached; `nextmini down` stops it\n");
    return ok();
  }
  return run_foreground(options);
}

Result<void> NetworkLauncher::run_foreground(const UpOptions& options) {
  std::printf("running in the foreground; Ctrl-C (or `nextmini down` elsewhere) stops it\n");
  std::fflush(stdout);
  std::vector<pid_t> reported_dead;
  while (!stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto state = read_state(run_dir_.state_path());
    if (state && !state->has_value()) {
      std::printf("the network was taken down by another command; exiting\n");
      return ok();
    }
    if (!state) continue;
    if ((*state)->stopping) {
      std::printf("`nextmini down` is taking the network down; exiting\n");
      return ok();
    }
    std::vector<const ManagedProcess*> processes = {&(*state)->controller};
    for (const auto& node : (*state)->nodes) processes.push_back(&node.process);
    for (const auto* process : processes) {
      if (std::find(reported_dead.begin(), reported_dead.end(), process->pid) !=
          reported_dead.end()) {
        continue;
      }
      std::string how = exit_description(process->pid);
      if (!how.empty()) {
        reported_dead.push_back(process->pid);
        std::printf(
            "%s (pid %d) exited (%s); see %s%s\n", process->name.c_str(), process->pid, how.c_str(),
            process->log.c_str(),
            process->name.rfind("node ", 0) == 0
                ? fmt::format("; `nextmini restart {}` starts it again", process->name.substr(5))
                      .c_str()
                : "");
        std::fflush(stdout);
      }
    }
  }
  std::printf("\nstopping the network\n");
  std::fflush(stdout);
  auto lock = StateLock::acquire(run_dir_.lock_path(), "up (stopping)", 30'000);
  if (!lock) return Failure{lock.error()};
  auto state = read_state(run_dir_.state_path());
  std::optional<LauncherState> recorded;
  if (state) recorded = *state;
  auto report = Teardown::run(run_dir_, recorded, options.grace);
  for (const auto& line : report.removed) std::printf("  %s\n", line.c_str());
  if (!report.errors.empty()) {
    std::string errors;
    for (const auto& error : report.errors) errors += "\n  " + error;
    return fail("launcher.teardown", "some things could not be removed:" + errors);
  }
  return ok();
}

Result<pid_t> NetworkLauncher::restart_node(std::uint32_t id) {
  auto lock = StateLock::acquire(run_dir_.lock_path(), "restart", 10'000);
  if (!lock) return Failure{lock.error()};
  auto read = read_state(run_dir_.state_path());
  if (!read) return Failure{read.error()};
  if (!read->has_value()) return fail("launcher.not_up", "no network is up (see `nextmini up`)");
  LauncherState state = std::move(**read);
  NodeRecord* node = state.find_node(id);
  if (node == nullptr) {
    std::vector<std::uint32_t> ids;
    for (const auto& known : state.nodes) ids.push_back(known.id);
    return fail("launcher.no_such_node",
                fmt::format("no node {} in the running network (nodes: {})", id, list_ids(ids)));
  }
  if (node->process.argv.empty()) {
    return fail("launcher.external_node",
                fmt::format("node {} runs in python mode: the launcher does not start it; run it "
                            "yourself with `nextmini exec {} -- python3 …`",
                            id, id));
  }
  return restart_process(state, node->process, node->process.argv);
}

Result<pid_t> NetworkLauncher::restart_controller() {
  auto lock = StateLock::acquire(run_dir_.lock_path(), "restart", 10'000);
  if (!lock) return Failure{lock.error()};
  auto read = read_state(run_dir_.state_path());
  if (!read) return Failure{read.error()};
  if (!read->has_value()) return fail("launcher.not_up", "no network is up (see `nextmini up`)");
  LauncherState state = std::move(**read);
  // A restart keeps the database: the controller restores the network from it. (The running
  // process is recognised by the command line it was started with, so strip it after.)
  auto argv = state.controller.argv;
  std::erase(argv, std::string("--reset-db"));
  return restart_process(state, state.controller, std::move(argv));
}

Result<pid_t> NetworkLauncher::restart_process(LauncherState& state, ManagedProcess& process,
                                               std::vector<std::string> argv) {
  if (!Netns::exists(process.netns)) {
    return fail("launcher.no_namespace",
                fmt::format("{}'s namespace {} is gone; run `nextmini down` and `up` again",
                            process.name, process.netns));
  }
  if (ProcessControl::runs_command(process.pid, process.argv)) {
    ProcessControl::stop({process.pid}, std::chrono::seconds(3));
  }
  process.argv = std::move(argv);
  auto pid = spawn_logged(process.argv, process.log);
  if (!pid) return Failure{pid.error()};
  process.pid = *pid;
  if (auto written = write_state(run_dir_.state_path(), state); !written) {
    return Failure{written.error()};
  }
  // Give it a moment: a process that cannot start at all is reported here.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string how = exit_description(*pid);
  if (!how.empty()) {
    std::string tail = tail_file(process.log, kLogTailLines);
    return fail("launcher.process_exited",
                fmt::format("{} exited right after the restart ({}); last lines of {}:\n{}",
                            process.name, how, process.log, tail));
  }
  return *pid;
}

}  // namespace nextmini::launcher
