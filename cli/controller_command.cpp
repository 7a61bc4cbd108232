// `nextmini controller --config FILE [--port P] [--listen ADDR] [--token T] [--status-file PATH]
// [--http ADDR:PORT|off] [--check]`: runs the controller until SIGINT/SIGTERM, or with --check
// validates the config, prints a summary and exits. Config errors exit 2, every error listed.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "command_registry.hpp"
#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/config.hpp"
#include "nextmini/controller/controller_server.hpp"
#include "nextmini/controller/flow_config.hpp"
#include "nextmini/controller/http_api.hpp"
#include "nextmini/controller/http_server.hpp"
#include "nextmini/controller/memory_store.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/topology.hpp"

namespace nextmini::cli {
namespace {

constexpr std::size_t kShownUnreachable = 50;

struct ControllerArgs {
  std::string config;
  std::optional<int> port;
  std::optional<std::string> listen;
  std::optional<std::string> token;
  std::string status_file;
  std::optional<std::string> http;
  bool check = false;
};

struct Plan {
  controller::Config config;
  controller::Topology topology;
  controller::RoutePlan routes;
};

Plan load_plan(const ControllerArgs& args) {
  auto config = controller::load_config_file(args.config);
  if (!config) {
    if (config.error().code == "config.io") throw CommandFailure{config.error().message, 1};
    throw CommandFailure{fmt::format("{}:\n{}", args.config, config.error().message), 2};
  }
  if (args.port) config->port = static_cast<std::uint16_t>(*args.port);
  if (args.listen) {
    boost::system::error_code error;
    boost::asio::ip::make_address(*args.listen, error);
    if (error) {
      throw CommandFailure{fmt::format("--listen: \"{}\" is not an IP address", *args.listen), 2};
    }
    config->listen_address = *args.listen;
  }
  if (args.token) config->token = *args.token;
  if (args.http) {
    if (auto http = controller::parse_http_listen(*args.http, "--http"); !http) {
      throw CommandFailure{http.error().message, 2};
    }
    config->http = *args.http;
  }
  auto topology = controller::build_topology(*config);
  if (!topology) {
    throw CommandFailure{fmt::format("{}:\n{}", args.config, topology.error().message), 2};
  }
  auto routes = controller::build_routes(*config, *topology);
  if (!routes) {
    throw CommandFailure{fmt::format("{}:\n{}", args.config, routes.error().message), 2};
  }
  if (auto pins = controller::check_flow_routes(*config, *routes); !pins.empty()) {
    throw CommandFailure{fmt::format("{}:\n{}", args.config, fmt::join(pins, "\n")), 2};
  }
  return Plan{std::move(*config), std::move(*topology), std::move(*routes)};
}

void print_summary(const ControllerArgs& args, const Plan& plan) {
  const auto& config = plan.config;
  const auto n = plan.topology.n_nodes();
  std::size_t configured = 0;
  for (const auto& route : plan.routes.routes()) configured += route.configured ? 1 : 0;
  std::printf("%s: OK\n", args.config.c_str());
  std::printf("topology: %s, %u nodes (%s .. %s/%u), %zu edges\n",
              std::string(controller::topology_type_name(config.topology.type)).c_str(), n,
              controller::node_address(config, 1).c_str(),
              controller::node_address(config, n).c_str(), controller::prefix_length(config),
              plan.topology.edges().size());
  constexpr std::size_t kShownEdges = 64;
  std::string edges;
  const auto& all_edges = plan.topology.edges();
  for (std::size_t i = 0; i < all_edges.size() && i < kShownEdges; ++i) {
    edges += fmt::format(" {}-{}", all_edges[i].first, all_edges[i].second);
  }
  if (all_edges.size() > kShownEdges) {
    edges += fmt::format(" ... ({} more)", all_edges.size() - kShownEdges);
  }
  std::printf("edges:%s\n", edges.empty() ? " none" : edges.c_str());
  std::printf("routes: %zu (%zu from [[routes]], %s for the other pairs)\n",
              plan.routes.routes().size(), configured, config.routing_protocol.c_str());
  std::printf("controller: %s:%u, protocol %s, mtu %u, metrics every %u ms, %s\n",
              config.listen_address.c_str(), config.port, config.protocol.c_str(), config.mtu,
              config.metrics_interval_ms, config.token.empty() ? "no token" : "token required");
  std::printf("http api: %s\n", config.http == "off" ? "off" : ("http://" + config.http).c_str());
  std::printf("flows: %zu\n", config.flows.size());
  const auto unreachable = plan.routes.unreachable_messages();
  for (std::size_t i = 0; i < unreachable.size() && i < kShownUnreachable; ++i) {
    std::printf("unreachable: %s\n", unreachable[i].c_str());
  }
  if (unreachable.size() > kShownUnreachable) {
    std::printf("unreachable: ... and %zu more pairs\n", unreachable.size() - kShownUnreachable);
  }
}

// The unreachable pairs of `routes`, the first kShownUnreachable of them.
std::vector<std::string> unreachable_lines(const controller::RoutePlan& routes) {
  auto lines = routes.unreachable_messages();
  const std::size_t count = lines.size();
  if (count > kShownUnreachable) {
    lines.resize(kShownUnreachable);
    lines.push_back(fmt::format("... and {} more unreachable pairs", count - kShownUnreachable));
  }
  return lines;
}

void run_controller(const ControllerArgs& args) {
  Plan plan = load_plan(args);
  if (args.check) {
    print_summary(args, plan);
    return;
  }

  const auto n_nodes = plan.topology.n_nodes();
  const auto http = controller::parse_http_listen(plan.config.http, "http").value();
  const bool default_http = plan.config.http == controller::Config{}.http;
  const auto config_dir = std::filesystem::path(plan.config.source_name).parent_path();
  controller::ControllerServer::Options options;
  options.listen_address = plan.config.listen_address;
  options.port = plan.config.port;
  options.status_file = args.status_file;

  controller::MemoryStore store;
  controller::BringUp bring_up(std::move(plan.config), std::move(plan.topology),
                               std::move(plan.routes), store);
  boost::asio::io_context io;
  controller::ControllerServer server(io, bring_up, options);
  // Unreachable pairs go to the log and the status file, also after a reroute.
  const auto unreachable = unreachable_lines(bring_up.routes());
  for (const auto& line : unreachable) spdlog::warn("{}", line);
  server.set_status_errors(unreachable);
  const auto started_at = std::chrono::steady_clock::now();
  server.on_topology_ready([&] {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started_at;
    std::printf("nextmini controller: all %u nodes ready (%.2f s after start)\n", n_nodes,
                elapsed.count());
    std::fflush(stdout);
  });
  controller::HttpApi api(
      bring_up, store,
      [&](std::vector<controller::Outgoing> out) {
        server.deliver(std::move(out));
        server.set_status_errors(unreachable_lines(bring_up.routes()));
        server.refresh_status();
      },
      config_dir);
  controller::HttpServer http_server(io, api, {http.address, http.port});
  if (http.enabled) {
    if (auto started = http_server.start(); started) {
      server.set_status_http(fmt::format("{}:{}", http.address, http_server.port()));
    } else if (default_http) {
      // The default address may be taken by another controller on this machine: run without.
      spdlog::warn("{}; running without the HTTP API (set `http` or --http)",
                   started.error().message);
    } else {
      throw CommandFailure{started.error().message, 1};
    }
  }
  if (auto started = server.start(); !started) {
    throw CommandFailure{started.error().message, 1};
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    spdlog::info("signal {}: stopping", signal);
    server.stop();
    http_server.stop();
  });
  io.run();
  const auto& counters = server.counters();
  spdlog::info("controller stopped: {} connections, {} frames in, {} out, {} undecodable",
               counters.connections, counters.frames_received, counters.frames_sent,
               counters.decode_errors);
}

void setup(CLI::App& app) {
  auto args = std::make_shared<ControllerArgs>();
  auto* command = app.add_subcommand("controller",
                                     "Run the controller: serve a topology's nodes over WebSocket");
  command->footer(
      "Exit status 2 for config errors (all listed), 1 for run-time failures. See "
      "docs/config.md for the config keys.");
  command->add_option("--config,-c", args->config, "controller config (TOML)")->required();
  command->add_option("--port,-p", args->port, "listen port (overrides `port`; 0: any free)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--listen", args->listen, "listen address (overrides `listen_address`)");
  command->add_option("--token", args->token,
                      "shared secret nodes must present (overrides `token`)");
  command->add_option("--status-file", args->status_file,
                      "rewrite this JSON file on every bring-up event");
  command->add_option("--http", args->http,
                      "serve the HTTP JSON API on ADDRESS:PORT, or \"off\" (overrides `http`; "
                      "default 127.0.0.1:3080; docs/http-api.md)");
  command->add_flag("--check", args->check,
                    "validate the config, print a summary (nodes, edges, routes) and exit");
  command->callback([args] { run_controller(*args); });
}

const CommandRegistration kRegistration{"controller", 10, &setup};

}  // namespace
}  // namespace nextmini::cli
