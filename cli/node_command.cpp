// `nextmini node --controller ws://HOST:PORT [--id N] [--token T] [--tun-name NAME]
// [--listen ADDR] [--advertise ADDR] [--link-port P] [--flow-port P] [--workers N]
// [--log-level LEVEL]`: runs one
// dataplane node in the current network namespace until SIGINT/SIGTERM. Usage errors exit 2,
// run-time failures (no TUN, port taken, controller refused the token) exit 1.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <memory>
#include <string>

#include "command_registry.hpp"
#include "nextmini/dataplane/node/node.hpp"

namespace nextmini::cli {
namespace {

struct NodeArgs {
  std::string controller;
  std::uint32_t id = 0;
  std::string token;
  std::string tun_name = "utun";
  std::string listen = "0.0.0.0";
  std::string advertise;
  int link_port = 4000;
  int flow_port = 4100;
  unsigned workers = 1;
  std::string log_level = "info";
};

void require_ip(const std::string& option, const std::string& value) {
  boost::system::error_code error;
  boost::asio::ip::make_address(value, error);
  if (error) throw CommandFailure{fmt::format("{}: \"{}\" is not an IP address", option, value), 2};
}

void run_node(const NodeArgs& args) {
  const auto level = spdlog::level::from_str(args.log_level);
  if (level == spdlog::level::off && args.log_level != "off") {
    throw CommandFailure{fmt::format("--log-level: \"{}\" is not one of trace, debug, info, warn, "
                                     "error, critical, off",
                                     args.log_level),
                         2};
  }
  spdlog::set_level(level);
  require_ip("--listen", args.listen);
  if (!args.advertise.empty()) require_ip("--advertise", args.advertise);

  dataplane::NodeConfig config;
  config.controller_url = args.controller;
  config.node_id = args.id;
  config.token = args.token;
  config.tun_name = args.tun_name;
  config.listen_address = args.listen;
  config.advertise_address = args.advertise;
  config.link_port = static_cast<std::uint16_t>(args.link_port);
  config.flow_port = static_cast<std::uint16_t>(args.flow_port);
  config.workers = args.workers;
  config.handle_signals = true;

  dataplane::Node node(std::move(config));
  if (auto started = node.start(); !started) {
    const int exit_code = started.error().code == "control.url" ? 2 : 1;
    throw CommandFailure{started.error().message, exit_code};
  }
  if (auto ran = node.run(); !ran) throw CommandFailure{ran.error().message, 1};
  spdlog::info("node {}: stopped", node.id());
}

void setup(CLI::App& app) {
  auto args = std::make_shared<NodeArgs>();
  auto* command =
      app.add_subcommand("node", "Run a dataplane node in this network namespace (needs root)");
  command->footer("Exit status 2 for usage errors, 1 for run-time failures.");
  command->add_option("--controller", args->controller, "controller URL, ws://HOST:PORT")
      ->required();
  command->add_option("--id", args->id, "node id (0: the controller assigns one)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--token", args->token, "shared secret the controller asks for");
  command->add_option("--tun-name", args->tun_name, "TUN interface name")->capture_default_str();
  command->add_option("--listen", args->listen, "address the link listener binds")
      ->capture_default_str();
  command->add_option("--advertise", args->advertise,
                      "underlay address neighbours dial (default: the listen address, or the "
                      "first non-loopback IPv4 address of this namespace)");
  command->add_option("--link-port", args->link_port, "link listener port (0: any free)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  command
      ->add_option("--flow-port", args->flow_port,
                   "controller flows: the sink's port on the TUN address, and the port sources "
                   "connect to on other nodes (0: no flows)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  command
      ->add_option("--workers", args->workers,
                   "worker threads, each with its own TUN queue (IFF_MULTI_QUEUE), Processor and "
                   "links; a flow stays on one worker (`nextmini up` picks cores / nodes)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command
      ->add_option("--log-level", args->log_level,
                   "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  command->callback([args] { run_node(*args); });
}

const CommandRegistration kRegistration{"node", 20, &setup};

}  // namespace
}  // namespace nextmini::cli
