#include "nextmini/controller/link_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "link_config_reader.hpp"
#include "nextmini/controller/topology.hpp"
#include "nextmini/controller/units.hpp"
#include "nextmini/messages/link_params_rules.hpp"
#include "nextmini/messages/mahimahi_trace.hpp"

namespace nextmini::controller {

namespace {

using messages::LinkParams;

constexpr std::array<std::string_view, 17> kLinkKeys = {
    "rate",        "burst",     "trace",     "delay",   "jitter",        "jitter_distribution",
    "reorder",     "loss",      "duplicate", "corrupt", "queue_packets", "queue_bytes",
    "drop_policy", "scheduler", "mtu",       "up",      "flow_weight"};

// A TOML value as written, for error messages.
std::string shown(const toml::node& node) {
  if (const auto* s = node.as_string()) return fmt::format("\"{}\"", s->get());
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (node.is_array()) return "a list";
  if (node.is_table()) return "a table";
  return "a date/time";
}

// Largest trace file the controller reads (a 10-Gbit/s trace of 10 s is about 40 MB).
constexpr std::uintmax_t kMaxTraceBytes = 64ull << 20;

class LinkReader {
 public:
  LinkReader(std::uint32_t n_nodes, std::filesystem::path base_dir,
             std::vector<std::string>& errors)
      : n_nodes_(n_nodes), base_dir_(std::move(base_dir)), errors_(errors) {}

  void error(std::string message) { errors_.push_back(std::move(message)); }

  // Reads every link knob of `table` (other keys are the caller's) into `params`.
  void knobs(const toml::table& table, const std::string& prefix, LinkParams& params) {
    for (const auto& [key_, value] : table) {
      const std::string key(key_.str());
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (key == "rate") {
        rate(value, path, params);
      } else if (key == "burst") {
        params.burst_bytes = size(value, path, 1);
      } else if (key == "trace") {
        params.trace = trace(value, path);
      } else if (key == "delay") {
        params.delay_ns = duration(value, path);
      } else if (key == "jitter") {
        params.jitter_ns = duration(value, path);
      } else if (key == "jitter_distribution") {
        params.jitter_distribution = choice(value, path, {"uniform", "normal"});
      } else if (key == "reorder") {
        params.reorder = boolean(value, path);
      } else if (key == "up") {
        params.up = boolean(value, path);
      } else if (key == "loss") {
        if (const toml::table* model = value.as_table()) {
          gilbert_elliott(*model, path, params);
        } else {
          params.loss_percent = percent(value, path);
        }
      } else if (key == "duplicate") {
        params.duplicate_percent = percent(value, path);
      } else if (key == "corrupt") {
        params.corrupt_percent = percent(value, path);
      } else if (key == "queue_packets") {
        params.queue_packets =
            integer(value, path, 1, messages::kMaxLinkQueuePackets, "an integer between 1 and 1e8");
      } else if (key == "queue_bytes") {
        params.queue_bytes = size(value, path, 1);
      } else if (key == "drop_policy") {
        params.drop_policy = choice(value, path, {"taildrop", "red", "codel"});
      } else if (key == "scheduler") {
        params.scheduler = choice(value, path, {"fifo", "wrr", "drr"});
      } else if (key == "mtu") {
        if (auto mtu = integer(value, path, messages::kMinLinkMtu, messages::kMaxLinkMtu,
                               "an integer between 68 and 65535")) {
          params.mtu = static_cast<std::uint32_t>(*mtu);
        }
      } else if (key == "flow_weight") {
        error(fmt::format("{}: per-flow weights belong to [[flows]], not to a link", path));
      }
    }
  }

  // A node id of table[key]: required, in range.
  std::optional<NodeId> node(const toml::table& table, const std::string& prefix,
                             std::string_view key) {
    const std::string path = fmt::format("{}.{}", prefix, key);
    const toml::node* value = table.get(key);
    if (value == nullptr) {
      error(fmt::format("{}: missing", path));
      return std::nullopt;
    }
    const std::uint64_t limit = n_nodes_ > 0 ? n_nodes_ : kMaxNodes;
    const auto* id = value->as_integer();
    if (id == nullptr || id->get() < 1 || static_cast<std::uint64_t>(id->get()) > limit) {
      error(fmt::format("{}: {} is not a node id (1..{})", path, shown(*value), limit));
      return std::nullopt;
    }
    return static_cast<NodeId>(id->get());
  }

  std::optional<std::uint64_t> integer(const toml::node& value, const std::string& path,
                                       std::int64_t min, std::int64_t max, std::string_view what) {
    const auto* number = value.as_integer();
    if (number == nullptr || number->get() < min || number->get() > max) {
      error(fmt::format("{}: {} is not {}", path, shown(value), what));
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(number->get());
  }

  std::optional<bool> boolean(const toml::node& value, const std::string& path) {
    if (const auto* b = value.as_boolean()) return b->get();
    error(fmt::format("{}: {} is not true or false", path, shown(value)));
    return std::nullopt;
  }

 private:
  // trace = "path": read (relative to the config file's directory) and checked to parse.
  std::optional<std::string> trace(const toml::node& value, const std::string& path) {
    auto name = text(value, path, "a path to a Mahimahi trace file");
    if (!name) return std::nullopt;
    std::filesystem::path file(*name);
    if (file.is_relative()) file = base_dir_ / file;
    // A regular file of bounded size only (not /dev/zero, a FIFO or a directory).
    std::error_code ec;
    const bool regular = std::filesystem::is_regular_file(file, ec);
    const auto bytes = regular ? std::filesystem::file_size(file, ec) : 0;
    if (regular && !ec && bytes > kMaxTraceBytes) {
      error(fmt::format("{}: \"{}\" is larger than {} bytes", path, file.string(), kMaxTraceBytes));
      return std::nullopt;
    }
    std::ifstream in;
    if (regular && !ec) in.open(file, std::ios::binary);
    if (!in.is_open() || !in) {
      error(fmt::format("{}: \"{}\" cannot be read", path, file.string()));
      return std::nullopt;
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (auto parsed = messages::parse_mahimahi_trace(content.str()); !parsed) {
      error(fmt::format("{}: \"{}\": {}", path, file.string(), parsed.error().message));
      return std::nullopt;
    }
    return content.str();
  }

  // loss = { model = "gilbert_elliott", p = "1%", r = "30%", one_minus_h = "100%",
  //          one_minus_k = "0%" }: p and r required, 1-h defaults to 100 %, 1-k to 0 %.
  void gilbert_elliott(const toml::table& table, const std::string& path, LinkParams& params) {
    const std::size_t before = errors_.size();
    for (const auto& [key, value] : table) {
      const auto name = key.str();
      if (name != "model" && name != "p" && name != "r" && name != "one_minus_h" &&
          name != "one_minus_k") {
        error(fmt::format("{}.{}: unknown key", path, name));
      }
    }
    if (const toml::node* model = table.get("model"); model == nullptr) {
      error(fmt::format("{}.model: missing (\"gilbert_elliott\")", path));
    } else {
      choice(*model, path + ".model", {"gilbert_elliott"});
    }
    auto part = [&](std::string_view key, std::optional<double> fallback) {
      const toml::node* value = table.get(key);
      if (value == nullptr) {
        if (!fallback) error(fmt::format("{}.{}: missing", path, key));
        return fallback;
      }
      return percent(*value, fmt::format("{}.{}", path, key));
    };
    auto p = part("p", std::nullopt);
    auto r = part("r", std::nullopt);
    auto one_minus_h = part("one_minus_h", 100.0);
    auto one_minus_k = part("one_minus_k", 0.0);
    if (errors_.size() != before) return;
    params.ge_p_percent = p;
    params.ge_r_percent = r;
    params.ge_one_minus_h_percent = one_minus_h;
    params.ge_one_minus_k_percent = one_minus_k;
  }

  std::optional<std::string> text(const toml::node& value, const std::string& path,
                                  std::string_view what) {
    if (const auto* s = value.as_string()) return s->get();
    error(fmt::format("{}: {} is not {}", path, shown(value), what));
    return std::nullopt;
  }

  void rate(const toml::node& value, const std::string& path, LinkParams& params) {
    auto written = text(value, path, "a rate such as \"100mbit\" or \"unlimited\"");
    if (!written) return;
    if (*written == "unlimited") {
      params.rate_bps = 0;  // on the wire, 0 means unlimited
      return;
    }
    auto bps = parse_rate_bps(*written);
    if (!bps) {
      error(fmt::format("{}: {}", path, bps.error().message));
    } else if (*bps == 0) {
      error(fmt::format(
          "{}: \"{}\" is zero (a link that never sends; use up = false, or \"unlimited\")", path,
          *written));
    } else {
      params.rate_bps = *bps;
    }
  }

  std::optional<std::uint64_t> duration(const toml::node& value, const std::string& path) {
    auto written = text(value, path, "a duration such as \"10ms\"");
    if (!written) return std::nullopt;
    auto ns = parse_duration_ns(*written);
    if (!ns) {
      error(fmt::format("{}: {}", path, ns.error().message));
      return std::nullopt;
    }
    return *ns;
  }

  std::optional<double> percent(const toml::node& value, const std::string& path) {
    auto written = text(value, path, "a percentage such as \"1%\"");
    if (!written) return std::nullopt;
    auto fraction = parse_percentage(*written);
    if (!fraction) {
      error(fmt::format("{}: {}", path, fraction.error().message));
      return std::nullopt;
    }
    return *fraction * 100.0;
  }

  // A size: an integer number of bytes or a string with a unit ("64kib"); at least `min`.
  std::optional<std::uint64_t> size(const toml::node& value, const std::string& path,
                                    std::uint64_t min) {
    std::optional<std::uint64_t> bytes;
    if (const auto* number = value.as_integer(); number != nullptr && number->get() >= 0) {
      bytes = static_cast<std::uint64_t>(number->get());
    } else if (const auto* s = value.as_string()) {
      auto parsed = parse_size_bytes(s->get());
      if (!parsed) {
        error(fmt::format("{}: {}", path, parsed.error().message));
        return std::nullopt;
      }
      bytes = *parsed;
    } else {
      error(fmt::format("{}: {} is not a size such as 1500 or \"64kib\"", path, shown(value)));
      return std::nullopt;
    }
    if (*bytes < min) {
      error(fmt::format("{}: {} is smaller than {} byte", path, shown(value), min));
      return std::nullopt;
    }
    return bytes;
  }

  std::optional<std::string> choice(const toml::node& value, const std::string& path,
                                    std::initializer_list<std::string_view> allowed) {
    std::string listed;
    for (auto name : allowed) {
      listed += listed.empty() ? "" : ", ";
      listed += fmt::format("\"{}\"", name);
    }
    auto written = text(value, path, fmt::format("one of {}", listed));
    if (!written) return std::nullopt;
    if (std::find(allowed.begin(), allowed.end(), *written) == allowed.end()) {
      error(fmt::format("{}: \"{}\" is not one of {}", path, *written, listed));
      return std::nullopt;
    }
    return written;
  }

  std::uint32_t n_nodes_;
  std::filesystem::path base_dir_;
  std::vector<std::string>& errors_;
};

bool is_link_key(std::string_view key) {
  return std::find(kLinkKeys.begin(), kLinkKeys.end(), key) != kLinkKeys.end();
}

// Reports keys of `table` that are neither link knobs nor in `extra`.
void only_link_keys(LinkReader& reader, const toml::table& table, const std::string& prefix,
                    std::initializer_list<std::string_view> extra) {
  for (const auto& [key, value] : table) {
    if (is_link_key(key.str())) continue;
    if (std::find(extra.begin(), extra.end(), key.str()) != extra.end()) continue;
    reader.error(fmt::format("{}: unknown key", prefix.empty()
                                                    ? std::string(key.str())
                                                    : prefix + "." + std::string(key.str())));
  }
}

const toml::array* table_list(LinkReader& reader, const toml::table& root, std::string_view key) {
  const toml::node* node = root.get(key);
  if (node == nullptr) return nullptr;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    reader.error(fmt::format("{}: {} is not a list of [[{}]] tables", key, shown(*node), key));
    return nullptr;
  }
  return array;
}

}  // namespace

std::string describe_toml_value(const toml::node& node) { return shown(node); }

void read_link_config(const toml::table& root, std::uint32_t n_nodes, Config& config,
                      std::vector<std::string>& errors) {
  LinkReader reader(n_nodes, std::filesystem::path(config.source_name).parent_path(), errors);
  if (const toml::node* node = root.get("link_defaults")) {
    if (const toml::table* table = node->as_table()) {
      only_link_keys(reader, *table, "link_defaults", {});
      reader.knobs(*table, "link_defaults", config.link_defaults);
    } else {
      reader.error(fmt::format("link_defaults: {} is not a table", shown(*node)));
    }
  }
  // [[link_rates]] first, so [[links]] can override them.
  if (const toml::array* rates = table_list(reader, root, "link_rates")) {
    for (std::size_t i = 0; i < rates->size(); ++i) {
      const toml::table& table = *rates->get(i)->as_table();
      const std::string prefix = fmt::format("link_rates[{}]", i);
      for (const auto& [key, value] : table) {
        const auto name = key.str();
        if (name != "src_node_id" && name != "dst_node_id" && name != "rate" &&
            name != "bucket_size") {
          reader.error(fmt::format("{}.{}: unknown key", prefix, name));
        }
      }
      LinkEntry entry;
      entry.path = prefix;
      auto src = reader.node(table, prefix, "src_node_id");
      auto dst = reader.node(table, prefix, "dst_node_id");
      std::optional<std::uint64_t> rate;
      if (const toml::node* value = table.get("rate"); value == nullptr) {
        reader.error(fmt::format("{}.rate: missing (bytes per second)", prefix));
      } else {
        rate = reader.integer(*value, prefix + ".rate", 1, std::int64_t{1} << 50,
                              "a positive integer (bytes per second)");
      }
      if (const toml::node* value = table.get("bucket_size")) {
        if (auto bucket = reader.integer(*value, prefix + ".bucket_size", 1, std::int64_t{1} << 40,
                                         "a positive integer (bytes)")) {
          entry.params.burst_bytes = *bucket;
        }
      }
      if (!src || !dst || !rate) continue;
      entry.src = *src;
      entry.dst = *dst;
      entry.params.rate_bps = *rate * 8;
      config.link_entries.push_back(std::move(entry));
    }
  }
  if (const toml::array* links = table_list(reader, root, "links")) {
    for (std::size_t i = 0; i < links->size(); ++i) {
      const toml::table& table = *links->get(i)->as_table();
      const std::string prefix = fmt::format("links[{}]", i);
      only_link_keys(reader, table, prefix, {"src", "dst", "bidirectional"});
      LinkEntry entry;
      entry.path = prefix;
      const std::size_t before = errors.size();
      auto src = reader.node(table, prefix, "src");
      auto dst = reader.node(table, prefix, "dst");
      if (const toml::node* value = table.get("bidirectional")) {
        entry.bidirectional = reader.boolean(*value, prefix + ".bidirectional").value_or(false);
      }
      reader.knobs(table, prefix, entry.params);
      if (!src || !dst || errors.size() != before) continue;
      entry.src = *src;
      entry.dst = *dst;
      config.link_entries.push_back(std::move(entry));
    }
  }
}

std::map<std::pair<NodeId, NodeId>, LinkParams> resolve_link_params(
    const Config& config, const Topology& topology, std::vector<std::string>& errors) {
  std::map<std::pair<NodeId, NodeId>, LinkParams> resolved;
  // Which table last set something on each directed link, for messages.
  std::map<std::pair<NodeId, NodeId>, std::string> source;
  if (messages::has_any_knob(config.link_defaults)) {
    for (const auto& [a, b] : topology.edges()) {
      resolved[{a, b}] = config.link_defaults;
      resolved[{b, a}] = config.link_defaults;
      source[{a, b}] = "link_defaults";
      source[{b, a}] = "link_defaults";
    }
  }
  for (const LinkEntry& entry : config.link_entries) {
    if (!topology.has_node(entry.src) || !topology.has_node(entry.dst)) {
      errors.push_back(fmt::format("{}: node {} -> {}: unknown node (the topology has 1..{})",
                                   entry.path, entry.src, entry.dst, topology.n_nodes()));
      continue;
    }
    if (!topology.has_edge(entry.src, entry.dst)) {
      errors.push_back(
          fmt::format("{}: {} -> {} is not a topology link", entry.path, entry.src, entry.dst));
      continue;
    }
    std::vector<std::pair<NodeId, NodeId>> directions = {{entry.src, entry.dst}};
    if (entry.bidirectional) directions.emplace_back(entry.dst, entry.src);
    for (const auto& key : directions) {
      messages::merge_link_params(resolved[key], entry.params);
      source[key] = entry.path;
    }
  }
  for (auto it = resolved.begin(); it != resolved.end();) {
    if (auto valid = messages::check_link_params(it->second); !valid) {
      errors.push_back(fmt::format("{}: link {} -> {}: {}", source[it->first], it->first.first,
                                   it->first.second, valid.error().message));
    }
    it = messages::has_any_knob(it->second) ? std::next(it) : resolved.erase(it);
  }
  return resolved;
}

}  // namespace nextmini::controller
