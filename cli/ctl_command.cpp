// `nextmini ctl ...`: the command-line client of the controller's HTTP JSON API
// (docs/http-api.md): show and change links, show routes, flows and the topology.
//   nextmini ctl link show [SRC DST]
//   nextmini ctl link set SRC DST --delay 20ms --loss 1% [--rate ..] [...every link key] [--both]
//                                 [--loss-ge P,R[,1-H[,1-K]]]   (Gilbert-Elliott bursty loss)
//   nextmini ctl link down SRC DST [--both]      nextmini ctl link up SRC DST [--both]
//   nextmini ctl routes | flows | topology
//   nextmini ctl flows add SRC DST (--bytes N | --duration S) [--rate B/s] [--weight W]
// Tables by default, the API's JSON with --json. The API is found with --url, or else in the
// network `nextmini up` runs (launcher/api_client.hpp). Exit status: 2 when the API refuses a
// value (its message is printed), 1 when it cannot be reached.

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>

#include "command_registry.hpp"
#include "launcher/api_client.hpp"
#include "launcher/launcher_state.hpp"

namespace nextmini::cli {
namespace {

namespace json = boost::json;

struct CtlArgs {
  std::string url;
  bool json = false;
  // link show / set / up / down
  std::vector<std::uint32_t> link;  // SRC DST
  bool both = false;
  // link set: every link key, as written ("20ms"); --queue-packets and --mtu are integers.
  std::map<std::string, std::string> knobs;
  std::string loss_ge;  // --loss-ge P,R[,ONE_MINUS_H[,ONE_MINUS_K]]
  // flows add
  std::uint32_t flow_src = 0;
  std::uint32_t flow_dst = 0;
  std::optional<std::uint64_t> flow_bytes;
  std::optional<double> flow_duration;
  std::optional<std::uint64_t> flow_rate;
  std::optional<std::uint32_t> flow_weight;
};

// ---- talking to the API -----------------------------------------------------------------------

json::value call(const CtlArgs& args, std::string_view method, const std::string& target,
                 const std::string& body = "") {
  auto endpoint = args.url.empty()
                      ? launcher::find_running_api(launcher::RunDirectory::from_environment())
                      : launcher::parse_api_url(args.url);
  if (!endpoint) {
    throw CommandFailure{endpoint.error().message, endpoint.error().code == "ctl.url" ? 2 : 1};
  }
  auto reply = launcher::call_api(*endpoint, method, target, body);
  if (!reply) {
    throw CommandFailure{fmt::format("{}; is a network up? try --url", reply.error().message), 1};
  }
  boost::system::error_code error;
  json::value value = json::parse(reply->body, error);
  if (error) {
    throw CommandFailure{fmt::format("{} {}: HTTP {} with a body that is not JSON: {}", method,
                                     target, reply->status, reply->body),
                         1};
  }
  if (reply->status >= 400) {
    std::string message = reply->body;
    if (const auto* e = value.is_object() ? value.get_object().if_contains("error") : nullptr) {
      if (const auto* m = e->is_object() ? e->get_object().if_contains("message") : nullptr) {
        if (m->is_string()) message = std::string(m->get_string());
      }
    }
    throw CommandFailure{message, reply->status >= 500 ? 1 : 2};
  }
  return value;
}

void print_json(const json::value& value) { std::printf("%s\n", json::serialize(value).c_str()); }

// ---- tables -----------------------------------------------------------------------------------

std::string text_of(const json::value* value, std::string_view fallback = "-") {
  if (value == nullptr || value->is_null()) return std::string(fallback);
  if (value->is_string()) return std::string(value->get_string());
  if (value->is_bool()) return value->get_bool() ? "yes" : "no";
  return json::serialize(*value);
}

std::string field(const json::object& object, std::string_view key,
                  std::string_view fallback = "-") {
  return text_of(object.if_contains(key), fallback);
}

// The link knobs the table has no column for, as "key=value".
std::string other_knobs(const json::object& params) {
  static const std::vector<std::string_view> kShown = {
      "rate", "delay", "jitter", "loss", "queue_packets", "queue_bytes", "up"};
  std::string out;
  for (const auto& [key, value] : params) {
    if (std::find(kShown.begin(), kShown.end(), std::string_view(key)) != kShown.end()) continue;
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", std::string_view(key), text_of(&value));
  }
  return out.empty() ? "-" : out;
}

std::uint64_t total_drops(const json::object& counters) {
  std::uint64_t total = 0;
  if (const auto* drops = counters.if_contains("drops"); drops && drops->is_object()) {
    for (const auto& [reason, count] : drops->get_object())
      total += count.to_number<std::uint64_t>();
  }
  return total;
}

void print_links(const json::array& links) {
  std::printf("%-9s %-5s %-10s %-8s %-8s %-12s %-9s %-11s %-13s %-7s %s\n", "link", "up", "rate",
              "delay", "jitter", "loss", "queue", "tx_packets", "tx_bytes", "drops", "other");
  for (const auto& item : links) {
    const auto& link = item.get_object();
    const auto& params = link.at("params").get_object();
    std::string queue = field(params, "queue_packets", "");
    if (queue.empty()) {
      queue = params.contains("queue_bytes") ? field(params, "queue_bytes") + "B" : "-";
    } else {
      queue += "p";
    }
    std::string tx_packets = "-", tx_bytes = "-", drops = "-";
    if (const auto* counters = link.if_contains("counters"); counters && counters->is_object()) {
      tx_packets = field(counters->get_object(), "tx_packets");
      tx_bytes = field(counters->get_object(), "tx_bytes");
      drops = std::to_string(total_drops(counters->get_object()));
    }
    std::printf("%-9s %-5s %-10s %-8s %-8s %-12s %-9s %-11s %-13s %-7s %s\n",
                fmt::format("{}->{}", field(link, "src"), field(link, "dst")).c_str(),
                link.at("up").get_bool() ? "up" : "DOWN", field(params, "rate").c_str(),
                field(params, "delay").c_str(), field(params, "jitter").c_str(),
                field(params, "loss").c_str(), queue.c_str(), tx_packets.c_str(), tx_bytes.c_str(),
                drops.c_str(), other_knobs(params).c_str());
  }
}

std::string pairs_text(const json::array& pairs, std::string_view separator) {
  std::string out;
  for (const auto& pair : pairs) {
    const auto& p = pair.get_array();
    out +=
        fmt::format("{}{}{}{}", out.empty() ? "" : ", ", text_of(&p[0]), separator, text_of(&p[1]));
  }
  return out;
}

// A path's edges as "1 -> 2 -> 3"; a DAG's as its edge list.
std::string route_text(const json::array& edges) {
  std::string path;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const auto& edge = edges[i].get_array();
    if (i == 0) {
      path = text_of(&edge[0]);
    } else if (text_of(&edges[i - 1].get_array()[1]) != text_of(&edge[0])) {
      return pairs_text(edges, "->");
    }
    path += " -> " + text_of(&edge[1]);
  }
  return path;
}

void print_routes(const json::object& routes) {
  std::printf("routes version %s (%s)\n", field(routes, "version").c_str(),
              field(routes, "routing").c_str());
  std::printf("%-6s %-4s %-4s %-7s %-10s %s\n", "route", "src", "dst", "weight", "kind", "path");
  for (const auto& item : routes.at("routes").get_array()) {
    const auto& route = item.get_object();
    std::printf("%-6s %-4s %-4s %-7s %-10s %s\n", field(route, "route_id").c_str(),
                field(route, "src").c_str(), field(route, "dst").c_str(),
                field(route, "weight").c_str(),
                route.at("configured").get_bool() ? "configured" : "computed",
                route_text(route.at("edges").get_array()).c_str());
  }
  const auto& down = routes.at("down_links").get_array();
  if (!down.empty()) std::printf("down links: %s\n", pairs_text(down, "->").c_str());
  for (const auto& pair : routes.at("unreachable").get_array()) {
    std::printf("unreachable: no path from %s to %s\n", text_of(&pair.get_array()[0]).c_str(),
                text_of(&pair.get_array()[1]).c_str());
  }
}

void print_flows(const json::array& flows) {
  std::printf("%-6s %-4s %-4s %-9s %-14s %-12s %-12s %s\n", "flow", "src", "dst", "state", "bytes",
              "length", "completion", "error");
  for (const auto& item : flows) {
    const auto& flow = item.get_object();
    const auto& length = flow.at("flow_spec").get_object().at("flow_len").get_object();
    std::string wanted =
        length.contains("Bytes") ? field(length, "Bytes") + " B" : field(length, "Duration") + " s";
    const auto* completion = flow.if_contains("completion_time_s");
    std::string done = completion && completion->is_number()
                           ? fmt::format("{:.3f} s", completion->to_number<double>())
                           : "-";
    std::string error = field(flow, "error", "");
    std::printf("%-6s %-4s %-4s %-9s %-14s %-12s %-12s %s\n", field(flow, "flow_id").c_str(),
                field(flow, "src_node_id").c_str(), field(flow, "dst_node_id").c_str(),
                field(flow, "state").c_str(), field(flow, "bytes").c_str(), wanted.c_str(),
                done.c_str(), error.empty() ? "-" : error.c_str());
  }
  if (flows.empty()) std::printf("(no flows)\n");
}

void print_topology(const json::object& topology) {
  std::printf("%s, %s nodes: %s connected, %s ready%s\n", field(topology, "type").c_str(),
              field(topology, "n_nodes").c_str(), field(topology, "connected").c_str(),
              field(topology, "ready").c_str(),
              topology.at("topology_ready").get_bool() ? " (topology ready)" : "");
  std::printf("%-5s %-12s %-16s %-10s %-6s %s\n", "node", "address", "underlay", "connected",
              "ready", "neighbours");
  for (const auto& item : topology.at("nodes").get_array()) {
    const auto& node = item.get_object();
    std::string neighbors;
    for (const auto& n : node.at("neighbors").get_array()) {
      neighbors += (neighbors.empty() ? "" : " ") + text_of(&n);
    }
    std::string underlay = field(node, "underlay_address");
    if (underlay.empty()) underlay = "-";
    std::printf("%-5s %-12s %-16s %-10s %-6s %s\n", field(node, "id").c_str(),
                field(node, "address").c_str(), underlay.c_str(), field(node, "connected").c_str(),
                field(node, "ready").c_str(), neighbors.c_str());
  }
  std::printf("edges: %s\n", pairs_text(topology.at("edges").get_array(), "-").c_str());
}

// ---- subcommands ------------------------------------------------------------------------------

std::string link_target(const CtlArgs& args) {
  return fmt::format("/api/links/{}/{}", args.link.at(0), args.link.at(1));
}

void link_show(const CtlArgs& args) {
  if (!args.link.empty() && args.link.size() != 2) {
    throw CommandFailure{"link show: give both SRC and DST, or neither", 2};
  }
  auto reply = call(args, "GET", args.link.empty() ? "/api/links" : link_target(args));
  if (args.json) return print_json(reply);
  if (args.link.empty()) return print_links(reply.at("links").get_array());
  print_links(json::array{reply});
}

// A knob as the API takes it: integers for the integer keys (so "abc" reaches the API as text
// and is refused there, with its key and value), booleans for up/reorder, strings otherwise.
json::value knob_json(const std::string& key, const std::string& value) {
  if (key == "queue_packets" || key == "mtu" || key == "burst" || key == "queue_bytes") {
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error == std::errc() && end == value.data() + value.size()) return number;
  }
  if (key == "up" || key == "reorder") {
    if (value == "true") return true;
    if (value == "false") return false;
  }
  return json::value(value);
}

void send_link_change(const CtlArgs& args, json::object change) {
  if (args.both) change["both"] = true;
  auto reply = call(args, "PATCH", link_target(args), json::serialize(change));
  if (args.json) return print_json(reply);
  print_links(reply.at("links").get_array());
  if (reply.at("rerouted").get_bool()) {
    std::printf("routes recomputed (version %s): see `nextmini ctl routes`\n",
                text_of(reply.get_object().if_contains("routes_version")).c_str());
  }
}

// --loss-ge "P,R[,ONE_MINUS_H[,ONE_MINUS_K]]" as the API's Gilbert-Elliott loss table; the API
// checks the values themselves.
json::object gilbert_elliott_json(const std::string& text) {
  static constexpr const char* kFields[] = {"p", "r", "one_minus_h", "one_minus_k"};
  json::object model{{"model", "gilbert_elliott"}};
  std::size_t field = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (field == std::size(kFields) || comma == start) break;
    model[kFields[field++]] = text.substr(start, comma - start);
    start = comma + 1;
  }
  if (field < 2 || start <= text.size()) {
    throw CommandFailure{fmt::format("link set: --loss-ge '{}': expected P,R[,ONE_MINUS_H"
                                     "[,ONE_MINUS_K]], e.g. 1%,30%",
                                     text),
                         2};
  }
  return model;
}

void link_set(const CtlArgs& args) {
  if (!args.loss_ge.empty() && args.knobs.contains("loss")) {
    throw CommandFailure{"link set: give --loss or --loss-ge, not both", 2};
  }
  json::object change;
  for (const auto& [key, value] : args.knobs) change[key] = knob_json(key, value);
  if (!args.loss_ge.empty()) change["loss"] = gilbert_elliott_json(args.loss_ge);
  if (change.empty()) {
    throw CommandFailure{
        "link set: nothing to change; give at least one of --rate, --delay, ... "
        "(see --help)",
        2};
  }
  send_link_change(args, std::move(change));
}

void link_up_down(const CtlArgs& args, bool up) {
  send_link_change(args, json::object{{"up", up}});
}

void routes(const CtlArgs& args) {
  auto reply = call(args, "GET", "/api/routes");
  if (args.json) return print_json(reply);
  print_routes(reply.get_object());
}

void flows(const CtlArgs& args) {
  auto reply = call(args, "GET", "/api/flows");
  if (args.json) return print_json(reply);
  print_flows(reply.at("flows").get_array());
}

void flows_add(const CtlArgs& args) {
  json::object length;
  if (args.flow_bytes.has_value() == args.flow_duration.has_value()) {
    throw CommandFailure{"flows add: give exactly one of --bytes and --duration", 2};
  }
  if (args.flow_bytes) length["Bytes"] = *args.flow_bytes;
  if (args.flow_duration) length["Duration"] = *args.flow_duration;
  json::object spec{{"flow_len", std::move(length)}, {"transport", "tcp"}};
  if (args.flow_rate) spec["flow_rate"] = *args.flow_rate;
  if (args.flow_weight) spec["flow_weight"] = *args.flow_weight;
  json::object flow{
      {"src_node_id", args.flow_src}, {"dst_node_id", args.flow_dst}, {"flow_spec", spec}};
  auto reply = call(args, "POST", "/api/flows", json::serialize(flow));
  if (args.json) return print_json(reply);
  print_flows(reply.at("flows").get_array());
}

void topology(const CtlArgs& args) {
  auto reply = call(args, "GET", "/api/topology");
  if (args.json) return print_json(reply);
  print_topology(reply.get_object());
}

// ---- command line -----------------------------------------------------------------------------

void add_link_pair(CLI::App* command, CtlArgs& args, bool required) {
  auto* option = command->add_option("src_dst", args.link, "SRC DST: the directed link src -> dst")
                     ->expected(2);
  if (required) option->required();
}

void add_both(CLI::App* command, CtlArgs& args) {
  command->add_flag("--both", args.both, "also change DST -> SRC (validated together)");
}

void setup(CLI::App& app) {
  auto args = std::make_shared<CtlArgs>();
  auto* ctl = app.add_subcommand("ctl", "Control a running network through the controller's API");
  ctl->footer(
      "Finds the API of the network `nextmini up` runs (entering its namespace, so it needs "
      "root), or uses --url. Exit status 2 when the API refuses a value, 1 when it cannot be "
      "reached. See docs/http-api.md.");
  ctl->require_subcommand(1);
  ctl->fallthrough();
  ctl->add_option("--url", args->url,
                  "the controller's API, e.g. http://127.0.0.1:3080 (default: the running "
                  "network's)");
  ctl->add_flag("--json", args->json, "print the API's JSON instead of a table");

  auto* link = ctl->add_subcommand("link", "Show or change directed links");
  link->require_subcommand(1);
  link->fallthrough();

  auto* show = link->add_subcommand("show", "Every directed link (or one): parameters, counters");
  show->fallthrough();
  add_link_pair(show, *args, false);
  show->callback([args] { link_show(*args); });

  auto* set = link->add_subcommand("set", "Change link keys (docs/config.md), e.g. --delay 20ms");
  set->fallthrough();
  add_link_pair(set, *args, true);
  add_both(set, *args);
  struct Knob {
    const char* option;
    const char* key;
    const char* help;
  };
  static const Knob kKnobs[] = {
      {"--rate", "rate", "rate: \"100mbit\", \"2.5gbit\", \"10MBps\" or \"unlimited\""},
      {"--burst", "burst", "token-bucket depth: 1500, \"64kib\""},
      {"--trace", "trace", "Mahimahi trace file (a path the controller can read)"},
      {"--delay", "delay", "one-way delay: \"10ms\", \"500us\""},
      {"--jitter", "jitter", "jitter: \"2ms\""},
      {"--jitter-distribution", "jitter_distribution", "\"uniform\" or \"normal\""},
      {"--reorder", "reorder", "true or false"},
      {"--loss", "loss", "Bernoulli loss: \"1%\""},
      {"--duplicate", "duplicate", "duplicate probability: \"0.5%\""},
      {"--corrupt", "corrupt", "corrupt probability: \"0.1%\""},
      {"--queue-packets", "queue_packets", "queue limit in packets"},
      {"--queue-bytes", "queue_bytes", "queue limit in bytes: 150000, \"1mb\""},
      {"--drop-policy", "drop_policy", "\"taildrop\", \"red\" or \"codel\""},
      {"--scheduler", "scheduler", "\"fifo\", \"wrr\" or \"drr\""},
      {"--mtu", "mtu", "link MTU (68..65535)"},
      {"--up", "up", "true or false (see also `link up` / `link down`)"},
  };
  for (const auto& knob : kKnobs) {
    const std::string key = knob.key;
    set->add_option_function<std::string>(
        knob.option, [args, key](const std::string& value) { args->knobs[key] = value; },
        knob.help);
  }
  set->add_option("--loss-ge", args->loss_ge,
                  "Gilbert-Elliott bursty loss P,R[,ONE_MINUS_H[,ONE_MINUS_K]]: P = P(good -> "
                  "bad), R = P(bad -> good), then the loss in the bad (default 100%) and good "
                  "(default 0%) states, e.g. 1%,30%");
  set->callback([args] { link_set(*args); });

  auto* down = link->add_subcommand("down", "Set a link down (drops everything; reroutes)");
  down->fallthrough();
  add_link_pair(down, *args, true);
  add_both(down, *args);
  down->callback([args] { link_up_down(*args, false); });

  auto* up = link->add_subcommand("up", "Set a link up again (routes return)");
  up->fallthrough();
  add_link_pair(up, *args, true);
  add_both(up, *args);
  up->callback([args] { link_up_down(*args, true); });

  auto* routes_command = ctl->add_subcommand("routes", "Routes in force, unreachable pairs");
  routes_command->fallthrough();
  routes_command->callback([args] { routes(*args); });

  auto* flows_command = ctl->add_subcommand("flows", "Controller flows: state, bytes, times");
  flows_command->fallthrough();
  flows_command->callback([args] {
    if (args->flow_src == 0) flows(*args);
  });
  auto* add = flows_command->add_subcommand("add", "Start a flow (POST /api/flows)");
  add->fallthrough();
  add->add_option("src", args->flow_src, "sending node")->required()->check(CLI::PositiveNumber);
  add->add_option("dst", args->flow_dst, "receiving node")->required()->check(CLI::PositiveNumber);
  add->add_option("--bytes", args->flow_bytes, "flow length in bytes");
  add->add_option("--duration", args->flow_duration, "flow length in seconds");
  add->add_option("--rate", args->flow_rate, "pacing rate in bytes per second");
  add->add_option("--weight", args->flow_weight, "scheduler weight (wrr/drr links)");
  add->callback([args] { flows_add(*args); });

  auto* topology_command = ctl->add_subcommand("topology", "Nodes, addresses, readiness, edges");
  topology_command->fallthrough();
  topology_command->callback([args] { topology(*args); });
}

const CommandRegistration kRegistration{"ctl", 125, &setup};

}  // namespace
}  // namespace nextmini::cli
