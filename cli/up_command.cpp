// `nextmini up CONFIG [--timeout S] [--detach] [--db URL] [--reset-db] [--workers N]`: a
// controller config turned into a running network on this machine (see
// launcher/network_launcher.hpp for what it does step by step).
// Workers per node: a node's `[[nodes]] workers` key, else --workers, else
// default_workers(): the machine's cores shared among the nodes it runs, at least 1.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "command_registry.hpp"
#include "launcher/command_runner.hpp"
#include "launcher/network_launcher.hpp"
#include "nextmini/controller/config.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/topology.hpp"

namespace nextmini::cli {
namespace {

struct UpArgs {
  std::string config;
  double timeout_seconds = 60;
  bool detach = false;
  std::string db;
  bool reset_db = false;
  unsigned workers = 0;  // 0: default_workers()
};

// About one core per worker: the cores divided among the node processes, at least 1, at most 8.
unsigned default_workers(std::size_t nodes) {
  const unsigned cores = std::max(std::thread::hardware_concurrency(), 1u);
  const std::size_t share = cores / std::max<std::size_t>(nodes, 1);
  return static_cast<unsigned>(std::clamp<std::size_t>(share, 1, 8));
}

// Reads and checks the config the way the controller will, so a bad config fails before
// anything is created (exit status 2).
launcher::NetworkPlan make_plan(const std::string& config_path, unsigned workers) {
  auto config = controller::load_config_file(config_path);
  if (!config) throw CommandFailure{config.error().message, 2};
  auto topology = controller::build_topology(*config);
  if (!topology) throw CommandFailure{topology.error().message, 2};
  auto routes = controller::build_routes(*config, *topology);
  if (!routes) throw CommandFailure{routes.error().message, 2};

  launcher::NetworkPlan plan;
  std::error_code error;
  auto absolute = std::filesystem::absolute(config_path, error);
  plan.config_path = error ? config_path : absolute.lexically_normal().string();
  plan.port = config->port == 0 ? 3000 : config->port;
  plan.token = config->token;
  for (std::uint32_t id = 1; id <= topology->n_nodes(); ++id) {
    plan.node_ids.push_back(id);
    plan.overlay_addresses.push_back(controller::node_address(*config, id));
    plan.overlay_addresses6.push_back(controller::node_address6(*config, id));
  }
  for (const auto& [a, b] : topology->edges()) plan.links.emplace_back(a, b);
  for (const auto& node : config->nodes) {
    if (node.operating_mode == "python") plan.external_nodes.push_back(node.node_id);
  }
  const std::size_t launched = plan.node_ids.size() - plan.external_nodes.size();
  const unsigned chosen = workers != 0 ? workers : default_workers(launched);
  plan.workers.assign(plan.node_ids.size(), chosen);
  for (const auto& node : config->nodes) {
    if (node.workers != 0) plan.workers[node.node_id - 1] = node.workers;
  }
  const std::string why = workers != 0 ? std::string("--workers")
                                       : fmt::format("{} cores, {} nodes",
                                                     std::thread::hardware_concurrency(), launched);
  std::printf("nextmini up: %u worker%s per node (%s)\n", chosen, chosen == 1 ? "" : "s",
              why.c_str());
  std::fflush(stdout);  // before the launcher forks its processes
  return plan;
}

void run_up(const UpArgs& args) {
  auto plan = make_plan(args.config, args.workers);
  plan.db_url = args.db;
  plan.reset_db = args.reset_db;
  if (::geteuid() != 0) {
    throw CommandFailure{"`nextmini up` creates network namespaces and needs root", 1};
  }
  if (args.timeout_seconds <= 0) throw CommandFailure{"--timeout must be positive", 2};
  launcher::UpOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<long>(args.timeout_seconds * 1000));
  options.detach = args.detach;
  launcher::NetworkLauncher network(launcher::RunDirectory::from_environment(),
                                    launcher::self_executable());
  auto result = network.up(plan, options);
  if (!result) throw CommandFailure{result.error().message, 1};
}

void setup(CLI::App& app) {
  auto args = std::make_shared<UpArgs>();
  auto* command =
      app.add_subcommand("up", "Bring up the network of a controller config on this machine");
  command->footer(
      "Makes a network namespace per node (nm-n<N>, underlay eth0 100.127.x.y), runs the "
      "controller in nm-ctl and every node in its namespace, and waits until the controller "
      "reports the topology ready, printing progress and then a summary. Stays in the "
      "foreground until Ctrl-C unless --detach. Needs root. State and logs: /run/nextmini "
      "(or $NEXTMINI_RUN_DIR). Exit status 2 for usage and config errors, 1 when the network "
      "cannot be brought up (or not as root).");
  // No CLI11 file check: load_config_file() reports a missing file as a config error (exit 2).
  command->add_option("config", args->config, "controller config (TOML)")->required();
  command
      ->add_option("--timeout", args->timeout_seconds,
                   "seconds to wait for the whole network to be ready")
      ->capture_default_str();
  command->add_option("--db", args->db,
                      "the controller keeps its state in this PostgreSQL database (passed to "
                      "`nextmini controller --db`). The controller runs in the nm-ctl namespace: "
                      "127.0.0.1 there is not this machine's; use a unix socket, e.g. "
                      "postgresql:///postgres?host=/tmp/pgdir&port=5432&user=postgres");
  command->add_flag("--reset-db", args->reset_db,
                    "the controller wipes the database first (`nextmini controller --reset-db`)");
  command
      ->add_option("--workers", args->workers,
                   "worker threads per node (each with its own TUN queue); default: the "
                   "machine's cores divided by the nodes, at least 1. A node's `[[nodes]] "
                   "workers` key wins")
      ->check(CLI::Range(1, 64));
  command->add_flag("--detach,-d", args->detach,
                    "return once the network is ready (stop it with `nextmini down`)");
  command->callback([args] { run_up(*args); });
}

const CommandRegistration kRegistration{"up", 100, &setup};

}  // namespace
}  // namespace nextmini::cli
