#include "nextmini/controller/http_api.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "nextmini/controller/link_knobs.hpp"
#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::controller {

namespace json = boost::json;

namespace {

using messages::LinkParams;

HttpResponse respond(unsigned status, const json::value& body) {
  return {status, json::serialize(body) + "\n"};
}

HttpResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  return respond(status,
                 json::object{{"error", json::object{{"code", code}, {"message", message}}}});
}

// ---- values shown with the config's units ----------------------------------------------------

std::string format_rate(std::uint64_t bps) {
  if (bps == 0) return "unlimited";
  if (bps % 1000000000 == 0) return fmt::format("{}gbit", bps / 1000000000);
  if (bps % 1000000 == 0) return fmt::format("{}mbit", bps / 1000000);
  if (bps % 1000 == 0) return fmt::format("{}kbit", bps / 1000);
  return fmt::format("{}bit", bps);
}

std::string format_percent(double percent) { return fmt::format("{}%", percent); }

// A link's set knobs under their config keys, with units (round-trips through PATCH, except
// `trace`, shown by its size).
json::object params_json(const LinkParams& p) {
  json::object out;
  if (p.rate_bps) out["rate"] = format_rate(*p.rate_bps);
  if (p.burst_bytes) out["burst"] = *p.burst_bytes;
  if (p.trace) out["trace"] = fmt::format("({} bytes of trace)", p.trace->size());
  if (p.delay_ns) out["delay"] = messages::format_duration_ns(*p.delay_ns);
  if (p.jitter_ns) out["jitter"] = messages::format_duration_ns(*p.jitter_ns);
  if (p.jitter_distribution) out["jitter_distribution"] = *p.jitter_distribution;
  if (p.reorder) out["reorder"] = *p.reorder;
  if (p.ge_p_percent) {
    json::object model{{"model", "gilbert_elliott"}, {"p", format_percent(*p.ge_p_percent)}};
    if (p.ge_r_percent) model["r"] = format_percent(*p.ge_r_percent);
    if (p.ge_one_minus_h_percent) model["one_minus_h"] = format_percent(*p.ge_one_minus_h_percent);
    if (p.ge_one_minus_k_percent) model["one_minus_k"] = format_percent(*p.ge_one_minus_k_percent);
    out["loss"] = std::move(model);
  } else if (p.loss_percent) {
    out["loss"] = format_percent(*p.loss_percent);
  }
  if (p.duplicate_percent) out["duplicate"] = format_percent(*p.duplicate_percent);
  if (p.corrupt_percent) out["corrupt"] = format_percent(*p.corrupt_percent);
  if (p.queue_packets) out["queue_packets"] = *p.queue_packets;
  if (p.queue_bytes) out["queue_bytes"] = *p.queue_bytes;
  if (p.drop_policy) out["drop_policy"] = *p.drop_policy;
  if (p.scheduler) out["scheduler"] = *p.scheduler;
  if (p.mtu) out["mtu"] = *p.mtu;
  if (p.up) out["up"] = *p.up;
  return out;
}

json::value counters_json(const std::optional<messages::Metrics>& metrics, NodeId dst) {
  if (!metrics) return nullptr;
  for (const auto& link : metrics->links) {
    if (link.neighbor != dst) continue;
    json::object drops;
    for (const auto& [reason, count] : link.drops) drops[reason] = count;
    return json::object{{"timestamp_ns", metrics->timestamp_ns},
                        {"tx_packets", link.tx_packets},
                        {"tx_bytes", link.tx_bytes},
                        {"rx_packets", link.rx_packets},
                        {"rx_bytes", link.rx_bytes},
                        {"connected", link.up},
                        {"drops", std::move(drops)}};
  }
  return nullptr;
}

json::object link_json(NodeId src, NodeId dst, const LinkParams& params,
                       const std::optional<messages::Metrics>& metrics) {
  return json::object{{"src", src},
                      {"dst", dst},
                      {"up", params.up.value_or(true)},
                      {"params", params_json(params)},
                      {"counters", counters_json(metrics, dst)}};
}

json::array pairs_json(const auto& pairs) {
  json::array out;
  for (const auto& [a, b] : pairs) out.push_back(json::array{a, b});
  return out;
}

// ---- request bodies -------------------------------------------------------------------------

KnobValue knob_value(const json::value& value) {
  switch (value.kind()) {
    case json::kind::string:
      return KnobValue::of_string(std::string(value.get_string()));
    case json::kind::int64:
      return KnobValue::of_integer(value.get_int64());
    case json::kind::uint64:
      return value.get_uint64() > static_cast<std::uint64_t>(INT64_MAX)
                 ? KnobValue::of_float(static_cast<double>(value.get_uint64()))
                 : KnobValue::of_integer(static_cast<std::int64_t>(value.get_uint64()));
    case json::kind::double_:
      return KnobValue::of_float(value.get_double());
    case json::kind::bool_:
      return KnobValue::of_boolean(value.get_bool());
    case json::kind::object: {
      std::vector<std::pair<std::string, KnobValue>> entries;
      for (const auto& [key, item] : value.get_object()) {
        entries.emplace_back(std::string(key), knob_value(item));
      }
      return KnobValue::of_table(std::move(entries));
    }
    case json::kind::array:
      return KnobValue::other("a list");
    case json::kind::null:
      break;
  }
  return KnobValue::other("null");
}

Result<json::object> parse_object(const std::string& body) {
  boost::system::error_code error;
  json::value value = json::parse(body, error);
  if (error) {
    return fail("http.bad_json", fmt::format("the body is not JSON: {}", error.message()));
  }
  if (!value.is_object()) return fail("http.bad_json", "the body must be a JSON object");
  return std::move(value.get_object());
}

std::string joined(const std::vector<std::string>& lines) {
  return fmt::format("{}", fmt::join(lines, "\n"));
}

// "/api/links/1/2" -> {"api", "links", "1", "2"}; a query string and empty parts are dropped.
std::vector<std::string_view> path_parts(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> parts;
  while (!target.empty()) {
    const auto slash = target.find('/');
    const auto part = target.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  return parts;
}

// A request target as it may be quoted in a message: bytes outside printable ASCII become '?'
// (a target is not checked to be UTF-8, and the answer must be JSON).
std::string printable(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

std::optional<NodeId> node_id(std::string_view text) {
  NodeId id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size() || id == 0) return std::nullopt;
  return id;
}

// One POST /api/flows entry, with Nextmini's [[flows]] keys, read into a FlowSpec; problems
// of shape (unknown keys, wrong types) appended to `errors`. The rules a flow must follow
// (nodes, lengths, transport) are BringUp::add_flows'.
std::optional<messages::FlowSpec> read_flow(const json::value& value, const std::string& path,
                                            std::vector<std::string>& errors) {
  const std::size_t before = errors.size();
  if (!value.is_object()) {
    errors.push_back(fmt::format("{}: a flow is an object", path));
    return std::nullopt;
  }
  const json::object& flow = value.get_object();
  auto unknown_keys = [&](const json::object& object, const std::string& where,
                          std::initializer_list<std::string_view> known) {
    for (const auto& [key, item] : object) {
      if (std::find(known.begin(), known.end(), std::string_view(key)) == known.end()) {
        errors.push_back(fmt::format("{}.{}: unknown key", where, std::string_view(key)));
      }
    }
  };
  // An integer that fits T (and is not negative), or a problem naming the key and value.
  auto whole = [&]<typename T>(const json::value* v, const std::string& where,
                               std::string_view what, T& out) {
    if (v == nullptr) return;
    if (v->is_int64() || v->is_uint64()) {
      boost::system::error_code error;
      const T number = v->to_number<T>(error);
      if (!error) {
        out = number;
        return;
      }
    }
    errors.push_back(fmt::format("{}: {} is not {}", where, json::serialize(*v), what));
  };
  unknown_keys(flow, path, {"src_node_id", "dst_node_id", "flow_spec", "flow_id"});
  messages::FlowSpec spec;
  for (const char* key : {"src_node_id", "dst_node_id"}) {
    const std::string where = fmt::format("{}.{}", path, key);
    const json::value* id = flow.if_contains(key);
    if (id == nullptr) errors.push_back(where + ": missing");
    whole(id, where, "a node id", std::string_view(key) == "src_node_id" ? spec.src : spec.dst);
  }
  whole(flow.if_contains("flow_id"), path + ".flow_id", "a flow id", spec.flow_id);
  const json::value* flow_spec = flow.if_contains("flow_spec");
  if (flow_spec == nullptr || !flow_spec->is_object()) {
    errors.push_back(fmt::format("{}.flow_spec: {}", path,
                                 flow_spec == nullptr ? "missing" : "must be an object"));
    return std::nullopt;
  }
  const json::object& spec_object = flow_spec->get_object();
  const std::string spec_path = path + ".flow_spec";
  unknown_keys(spec_object, spec_path, {"flow_len", "flow_rate", "flow_weight", "transport"});
  const json::value* length = spec_object.if_contains("flow_len");
  const std::string length_path = spec_path + ".flow_len";
  const json::object* length_object = length != nullptr ? length->if_object() : nullptr;
  if (length_object == nullptr || length_object->size() != 1 ||
      !(length_object->contains("Bytes") || length_object->contains("Duration"))) {
    errors.push_back(
        fmt::format("{}: must be {{\"Bytes\": N}} or {{\"Duration\": S}}", length_path));
  } else if (const json::value* bytes = length_object->if_contains("Bytes")) {
    whole(bytes, length_path + ".Bytes", "a number of bytes", spec.length_bytes.emplace());
  } else {
    const json::value& seconds = length_object->at("Duration");
    if (seconds.is_number()) {
      spec.duration_s = seconds.to_number<double>();
    } else {
      errors.push_back(fmt::format("{}.Duration: {} is not a number of seconds", length_path,
                                   json::serialize(seconds)));
    }
  }
  if (const json::value* rate = spec_object.if_contains("flow_rate")) {
    whole(rate, spec_path + ".flow_rate", "a rate in bytes per second",
          spec.rate_bytes_per_s.emplace());
  }
  if (const json::value* weight = spec_object.if_contains("flow_weight")) {
    whole(weight, spec_path + ".flow_weight", "a weight", spec.weight.emplace());
  }
  if (const json::value* transport = spec_object.if_contains("transport")) {
    if (transport->is_string()) {
      spec.transport = std::string(transport->get_string());
    } else {
      errors.push_back(
          fmt::format("{}.transport: {} is not a string", spec_path, json::serialize(*transport)));
    }
  }
  if (errors.size() != before) return std::nullopt;
  return spec;
}

json::object flow_json(const FlowRecord& flow) {
  const auto& spec = flow.spec;
  json::object length;
  if (spec.length_bytes) length["Bytes"] = *spec.length_bytes;
  if (spec.duration_s) length["Duration"] = *spec.duration_s;
  json::object flow_spec{{"flow_len", std::move(length)}, {"transport", spec.transport}};
  if (spec.rate_bytes_per_s) flow_spec["flow_rate"] = *spec.rate_bytes_per_s;
  if (spec.weight) flow_spec["flow_weight"] = *spec.weight;
  const std::string_view state = flow_state(flow);
  json::object out{{"flow_id", spec.flow_id},
                   {"src_node_id", spec.src},
                   {"dst_node_id", spec.dst},
                   {"flow_spec", std::move(flow_spec)},
                   {"state", state},
                   {"bytes", flow.bytes},
                   {"start_time_ns", nullptr},
                   {"finish_time_ns", nullptr},
                   {"completion_time_s", nullptr},
                   {"error", flow.error}};
  if (flow.start_time_ns) out["start_time_ns"] = *flow.start_time_ns;
  if (flow.finish_time_ns) out["finish_time_ns"] = *flow.finish_time_ns;
  if (state == "finished" && flow.start_time_ns && *flow.finish_time_ns >= *flow.start_time_ns) {
    out["completion_time_s"] =
        static_cast<double>(*flow.finish_time_ns - *flow.start_time_ns) / 1e9;
  }
  return out;
}

}  // namespace

HttpApi::HttpApi(BringUp& bring_up, Store& store, Deliver deliver, std::filesystem::path base_dir)
    : bring_up_(bring_up),
      store_(store),
      deliver_(std::move(deliver)),
      base_dir_(std::move(base_dir)) {}

HttpResponse HttpApi::handle(const HttpRequest& request) {
  const auto parts = path_parts(request.target);
  const std::string method = printable(request.method);
  const std::string target = printable(request.target);
  auto wrong_method = [&](std::string_view allowed) {
    return error_response(405, "http.method",
                          fmt::format("{} {}: allowed: {}", method, target, allowed));
  };
  if (parts.size() == 2 && parts[0] == "api") {
    if (parts[1] == "topology") return method == "GET" ? topology() : wrong_method("GET");
    if (parts[1] == "links") return method == "GET" ? links() : wrong_method("GET");
    if (parts[1] == "routes") return method == "GET" ? routes() : wrong_method("GET");
    if (parts[1] == "errors") return method == "GET" ? errors() : wrong_method("GET");
    if (parts[1] == "flows") {
      if (method == "GET") return flows();
      if (method == "POST") return post_flows(request.body);
      return wrong_method("GET, POST");
    }
  }
  if (parts.size() == 4 && parts[0] == "api" && parts[1] == "links") {
    const auto src = node_id(parts[2]);
    const auto dst = node_id(parts[3]);
    if (!src || !dst) {
      return error_response(404, "link.not_found",
                            fmt::format("{}: node ids are positive integers", target));
    }
    if (method == "GET") return link(*src, *dst);
    if (method == "PATCH") return patch_link(*src, *dst, request.body);
    return wrong_method("GET, PATCH");
  }
  return error_response(
      404, "http.not_found",
      fmt::format("{} {}: no such endpoint (see docs/http-api.md)", method, target));
}

HttpResponse HttpApi::topology() const {
  const auto& config = bring_up_.config();
  const auto& topology = bring_up_.topology();
  const auto status = bring_up_.status();
  std::map<NodeId, NodeRecord> records;
  if (auto stored = store_.list_nodes()) {
    for (auto& node : *stored) records[node.node_id] = std::move(node);
  }
  json::array nodes;
  for (NodeId id = 1; id <= topology.n_nodes(); ++id) {
    const auto it = records.find(id);
    const bool known = it != records.end();
    nodes.push_back(json::object{{"id", id},
                                 {"address", node_address(config, id)},
                                 {"address6", node_address6(config, id)},
                                 {"underlay_address", known ? it->second.underlay_address : ""},
                                 {"link_port", known ? it->second.link_port : 0},
                                 {"operating_mode", known ? it->second.operating_mode : "tun"},
                                 {"connected", known && it->second.connected},
                                 {"ready", known && it->second.ready},
                                 {"connections", known ? it->second.connections : 0},
                                 {"neighbors", json::value_from(topology.neighbors(id))}});
  }
  return respond(200, json::object{{"type", topology_type_name(config.topology.type)},
                                   {"n_nodes", topology.n_nodes()},
                                   {"connected", status.connected},
                                   {"ready", status.ready},
                                   {"topology_ready", status.topology_ready},
                                   {"nodes", std::move(nodes)},
                                   {"edges", pairs_json(topology.edges())}});
}

HttpResponse HttpApi::links() const {
  std::map<NodeId, std::optional<messages::Metrics>> metrics;
  json::array out;
  for (const auto& [key, params] : bring_up_.link_params()) {
    auto [at, inserted] = metrics.try_emplace(key.first);
    if (inserted) {
      if (auto latest = store_.latest_metrics(key.first)) at->second = std::move(*latest);
    }
    out.push_back(link_json(key.first, key.second, params, at->second));
  }
  return respond(200, json::object{{"links", std::move(out)}});
}

HttpResponse HttpApi::link(NodeId src, NodeId dst) const {
  if (auto valid = bring_up_.check_link_params(src, dst, {});
      !valid && valid.error().code == "link.not_found") {
    return error_response(404, valid.error().code, valid.error().message);
  }
  const auto all = bring_up_.link_params();
  std::optional<messages::Metrics> metrics;
  if (auto latest = store_.latest_metrics(src)) metrics = std::move(*latest);
  return respond(200, link_json(src, dst, all.at({src, dst}), metrics));
}

HttpResponse HttpApi::patch_link(NodeId src, NodeId dst, const std::string& body) {
  auto object = parse_object(body);
  if (!object) return error_response(400, object.error().code, object.error().message);
  // Unknown link first: a 404 says more than the values' problems.
  if (auto known = bring_up_.check_link_params(src, dst, {});
      !known && known.error().code == "link.not_found") {
    return error_response(404, known.error().code, known.error().message);
  }
  std::vector<std::string> errors;
  LinkKnobReader reader(base_dir_, errors);
  LinkParams change;
  bool both = false;
  for (const auto& [key_, value] : *object) {
    const std::string key(key_);
    const std::string path = "links." + key;
    if (key == "both") {
      both = reader.boolean(knob_value(value), path).value_or(false);
    } else if (!reader.read(key, knob_value(value), path, change)) {
      errors.push_back(fmt::format("{}: unknown key", path));
    }
  }
  if (errors.empty() && !messages::has_any_knob(change)) {
    errors.push_back(
        fmt::format("links: nothing to change (keys: {})", fmt::join(link_keys(), ", ")));
  }
  if (!errors.empty()) return error_response(400, "links.invalid", joined(errors));
  std::vector<std::pair<NodeId, NodeId>> directions = {{src, dst}};
  if (both) directions.emplace_back(dst, src);
  for (const auto& [a, b] : directions) {
    if (auto valid = bring_up_.check_link_params(a, b, change); !valid) {
      errors.push_back(valid.error().message);
    }
  }
  if (!errors.empty()) return error_response(400, "links.invalid", joined(errors));

  const auto version_before = bring_up_.routes_version();
  std::vector<Outgoing> outgoing;
  for (const auto& [a, b] : directions) {
    auto messages = bring_up_.set_link_params(a, b, change);
    outgoing.insert(outgoing.end(), std::make_move_iterator(messages.begin()),
                    std::make_move_iterator(messages.end()));
  }
  if (deliver_) deliver_(std::move(outgoing));
  const auto all = bring_up_.link_params();
  json::array changed;
  for (const auto& [a, b] : directions) {
    std::optional<messages::Metrics> metrics;
    if (auto latest = store_.latest_metrics(a)) metrics = std::move(*latest);
    changed.push_back(link_json(a, b, all.at({a, b}), metrics));
  }
  return respond(200, json::object{{"links", std::move(changed)},
                                   {"rerouted", bring_up_.routes_version() != version_before},
                                   {"routes_version", bring_up_.routes_version()}});
}

HttpResponse HttpApi::routes() const {
  const auto& plan = bring_up_.routes();
  json::array out;
  for (const auto& route : plan.routes()) {
    json::object entry{{"route_id", route.route_id},
                       {"src", route.src},
                       {"dst", route.dst},
                       {"weight", route.weight},
                       {"configured", route.configured},
                       {"edges", pairs_json(route.edges)}};
    out.push_back(std::move(entry));
  }
  return respond(200, json::object{{"version", bring_up_.routes_version()},
                                   {"routing", bring_up_.config().routing_protocol},
                                   {"routes", std::move(out)},
                                   {"unreachable", pairs_json(plan.unreachable())},
                                   {"down_links", pairs_json(bring_up_.down_links())}});
}

HttpResponse HttpApi::flows() const {
  json::array out;
  for (const auto& flow : bring_up_.flows()) out.push_back(flow_json(flow));
  return respond(200, json::object{{"flows", std::move(out)}});
}

HttpResponse HttpApi::errors() const {
  auto refused = store_.row_errors();
  if (!refused) return error_response(503, refused.error().code, refused.error().message);
  json::array out;
  for (const auto& row : *refused) {
    out.push_back(json::object{{"table", row.table_name},
                               {"row_id", row.row_id},
                               {"code", row.code},
                               {"message", row.message}});
  }
  return respond(200, json::object{{"errors", std::move(out)}});
}

HttpResponse HttpApi::post_flows(const std::string& body) {
  auto object = parse_object(body);
  if (!object) return error_response(400, object.error().code, object.error().message);
  std::vector<std::string> errors;
  std::vector<messages::FlowSpec> specs;
  auto take = [&](const json::value& value, const std::string& path) {
    if (auto spec = read_flow(value, path, errors)) specs.push_back(std::move(*spec));
  };
  if (const json::value* list = object->if_contains("flows")) {
    if (object->size() != 1 || !list->is_array() || list->get_array().empty()) {
      errors.push_back("flows: {\"flows\": [...]} takes a non-empty list and nothing else");
    } else {
      for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        take(list->get_array()[i], fmt::format("flows[{}]", i));
      }
    }
  } else {
    take(*object, "flows[0]");
  }
  if (!errors.empty()) return error_response(400, "flows.invalid", joined(errors));
  auto added = bring_up_.add_flows(specs);
  if (!added) return error_response(400, added.error().code, added.error().message);
  if (deliver_) deliver_(std::move(added->outgoing));
  json::array out;
  for (std::size_t i = 0; i < specs.size() && i < added->ids.size(); ++i) {
    specs[i].flow_id = added->ids[i];
    out.push_back(flow_json(FlowRecord{specs[i], {}, {}, 0, ""}));
  }
  return respond(201, json::object{{"flows", std::move(out)}});
}

Result<HttpListen> parse_http_listen(std::string_view text, std::string_view what) {
  HttpListen listen;
  if (text == "off") {
    listen.enabled = false;
    return listen;
  }
  const auto colon = text.rfind(':');
  auto refuse = [&] {
    return fail(
        "http.listen",
        fmt::format("{}: \"{}\" is not ADDRESS:PORT such as \"127.0.0.1:3080\" (or \"off\")", what,
                    text));
  };
  if (colon == std::string_view::npos) return refuse();
  boost::system::error_code error;
  boost::asio::ip::make_address_v4(std::string(text.substr(0, colon)), error);
  unsigned port = 0;
  const auto digits = text.substr(colon + 1);
  const auto [end, parse_error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error || parse_error != std::errc() || end != digits.data() + digits.size() ||
      digits.empty() || port > 65535) {
    return refuse();
  }
  listen.address = std::string(text.substr(0, colon));
  listen.port = static_cast<std::uint16_t>(port);
  return listen;
}

}  // namespace nextmini::controller
