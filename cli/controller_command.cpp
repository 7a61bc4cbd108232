// `nextmini controller --config FILE [--port P] [--listen ADDR] [--token T] [--status-file PATH]
// [--http ADDR:PORT|off] [--db URL] [--reset-db] [--check]`: runs the controller until
// SIGINT/SIGTERM, or with --check validates the config, prints a summary and exits. Config
// errors exit 2, every error listed.
// The store: PostgreSQL when a database is named (--db, else the config's [db] url, else
// DATABASE_URL), memory otherwise. A database that already holds a network is restored (it wins
// over the config, which only describes the topology then); an empty one gets the config's.
// --reset-db wipes it first. The database cannot be reached, or is at a newer schema: exit 1.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "command_registry.hpp"
#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/config.hpp"
#include "nextmini/controller/controller_server.hpp"
#include "nextmini/controller/database_sync.hpp"
#include "nextmini/controller/flow_config.hpp"
#include "nextmini/controller/http_api.hpp"
#include "nextmini/controller/http_server.hpp"
#include "nextmini/controller/memory_store.hpp"
#include "nextmini/controller/pg/connection.hpp"
#include "nextmini/controller/pg_store.hpp"
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
  std::optional<std::string> db;
  bool reset_db = false;
  bool check = false;
};

// The database the controller keeps its state in, and where its URL came from.
struct DatabaseChoice {
  std::string url;
  std::string source;  // "--db", "[db] url", "DATABASE_URL"
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

// --db, else the config's [db] url, else $DATABASE_URL; none: the memory store.
std::optional<DatabaseChoice> choose_database(const ControllerArgs& args,
                                              const controller::Config& config) {
  std::optional<DatabaseChoice> choice;
  if (args.db) {
    choice = DatabaseChoice{*args.db, "--db"};
  } else if (!config.db_url.empty()) {
    choice = DatabaseChoice{config.db_url, "[db] url"};
  } else if (const char* env = std::getenv("DATABASE_URL"); env != nullptr && *env != '\0') {
    choice = DatabaseChoice{env, "DATABASE_URL"};
  }
  if (choice && !controller::looks_like_db_url(choice->url)) {
    throw CommandFailure{
        fmt::format("{}: \"{}\" is not a PostgreSQL URL (postgresql://... or key=value ...)",
                    choice->source, controller::pg::redact_url(choice->url)),
        2};
  }
  if (args.reset_db && !choice) {
    throw CommandFailure{"--reset-db: no database named (--db, [db] url or DATABASE_URL)", 2};
  }
  return choice;
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
  if (auto database = choose_database(args, config)) {
    std::printf("store: postgresql %s (from %s)%s\n",
                controller::pg::redact_url(database->url).c_str(), database->source.c_str(),
                args.reset_db ? ", reset at start" : "");
  } else {
    std::printf("store: memory\n");
  }
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

controller::OpenedDatabase open_database(const DatabaseChoice& choice, bool reset,
                                         const controller::Topology& topology) {
  spdlog::info("database: {} (from {}){}", controller::pg::redact_url(choice.url), choice.source,
               reset ? "; --reset-db: wiping it" : "");
  auto opened = controller::open_database(choice.url, reset, topology);
  if (!opened) {
    throw CommandFailure{fmt::format("database ({}): {} [{}]", choice.source,
                                     opened.error().message, opened.error().code),
                         1};
  }
  return std::move(*opened);
}

void run_controller(const ControllerArgs& args) {
  Plan plan = load_plan(args);
  if (args.check) {
    print_summary(args, plan);
    return;
  }
  const auto database_choice = choose_database(args, plan.config);

  const auto n_nodes = plan.topology.n_nodes();
  const auto http = controller::parse_http_listen(plan.config.http, "http").value();
  const bool default_http = plan.config.http == controller::Config{}.http;
  const auto config_dir = std::filesystem::path(plan.config.source_name).parent_path();
  controller::ControllerServer::Options options;
  options.listen_address = plan.config.listen_address;
  options.port = plan.config.port;
  options.status_file = args.status_file;

  controller::MemoryStore memory_store;
  controller::OpenedDatabase database;
  if (database_choice) database = open_database(*database_choice, args.reset_db, plan.topology);
  controller::Store& store =
      database.store ? static_cast<controller::Store&>(*database.store) : memory_store;
  controller::BringUp bring_up(std::move(plan.config), std::move(plan.topology),
                               std::move(plan.routes), store, database.start);
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
  // Changes from the HTTP API and from the database go out the same way.
  auto deliver = [&](std::vector<controller::Outgoing> out) {
    server.deliver(std::move(out));
    server.set_status_errors(unreachable_lines(bring_up.routes()));
    server.refresh_status();
  };
  controller::HttpApi api(bring_up, store, deliver, config_dir);
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
  std::unique_ptr<controller::DatabaseSync> sync;
  if (database.store) {
    sync = std::make_unique<controller::DatabaseSync>(io.get_executor(), *database.store,
                                                      database_choice->url, bring_up, deliver);
    sync->start(database.after_seq);
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    spdlog::info("signal {}: stopping", signal);
    if (sync) sync->stop();
    server.stop();
    http_server.stop();
  });
  io.run();
  const auto& counters = server.counters();
  spdlog::info("controller stopped: {} connections, {} frames in, {} out, {} undecodable",
               counters.connections, counters.frames_received, counters.frames_sent,
               counters.decode_errors);
  if (sync) {
    spdlog::info("database: {} changes applied, {} rows refused, {} metric rows written",
                 sync->applied(), sync->refused(), database.store->metric_rows_written());
  }
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
  command->add_option("--db", args->db,
                      "keep the state in this PostgreSQL database (libpq URL, e.g. "
                      "postgresql://user@host:5432/nextmini; overrides [db] url and "
                      "$DATABASE_URL; credentials from the URL, $PGPASSWORD or ~/.pgpass). A "
                      "database holding a network is restored; SQL writes reconfigure the "
                      "network (docs/database.md)");
  command->add_flag("--reset-db", args->reset_db,
                    "wipe the database's Nextmini tables first and start from the config "
                    "(never done otherwise)");
  command->add_flag("--check", args->check,
                    "validate the config (and [db] keys), print a summary (nodes, edges, "
                    "routes, store) and exit; does not connect to the database");
  command->callback([args] { run_controller(*args); });
}

const CommandRegistration kRegistration{"controller", 10, &setup};

}  // namespace
}  // namespace nextmini::cli
