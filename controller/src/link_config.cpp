#include "nextmini/controller/link_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "link_config_reader.hpp"
#include "nextmini/controller/link_knobs.hpp"
#include "nextmini/controller/topology.hpp"
#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::controller {

namespace {

using messages::LinkParams;

// A TOML value as the format-independent KnobValue the link key reader takes.
KnobValue knob_value(const toml::node& node) {
  if (const auto* s = node.as_string()) return KnobValue::of_string(s->get());
  if (const auto* i = node.as_integer()) return KnobValue::of_integer(i->get());
  if (const auto* f = node.as_floating_point()) return KnobValue::of_float(f->get());
  if (const auto* b = node.as_boolean()) return KnobValue::of_boolean(b->get());
  if (const auto* t = node.as_table()) {
    std::vector<std::pair<std::string, KnobValue>> entries;
    for (const auto& [key, value] : *t)
      entries.emplace_back(std::string(key.str()), knob_value(value));
    return KnobValue::of_table(std::move(entries));
  }
  if (node.is_array()) return KnobValue::other("a list");
  return KnobValue::other("a date/time");
}

class LinkReader {
 public:
  LinkReader(std::uint32_t n_nodes, std::filesystem::path base_dir,
             std::vector<std::string>& errors)
      : n_nodes_(n_nodes), knobs_(std::move(base_dir), errors) {}

  void error(std::string message) { knobs_.error(std::move(message)); }

  // Reads every link knob of `table` (other keys are the caller's) into `params`.
  void knobs(const toml::table& table, const std::string& prefix, LinkParams& params) {
    for (const auto& [key_, value] : table) {
      const std::string key(key_.str());
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (is_link_key(key)) knobs_.read(key, knob_value(value), path, params);
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
      error(
          fmt::format("{}: {} is not a node id (1..{})", path, knob_value(*value).shown(), limit));
      return std::nullopt;
    }
    return static_cast<NodeId>(id->get());
  }

  std::optional<std::uint64_t> integer(const toml::node& value, const std::string& path,
                                       std::int64_t min, std::int64_t max, std::string_view what) {
    return knobs_.integer(knob_value(value), path, min, max, what);
  }

  std::optional<bool> boolean(const toml::node& value, const std::string& path) {
    return knobs_.boolean(knob_value(value), path);
  }

 private:
  std::uint32_t n_nodes_;
  LinkKnobReader knobs_;
};

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
    reader.error(
        fmt::format("{}: {} is not a list of [[{}]] tables", key, knob_value(*node).shown(), key));
    return nullptr;
  }
  return array;
}

}  // namespace

std::string describe_toml_value(const toml::node& node) { return knob_value(node).shown(); }

void read_link_config(const toml::table& root, std::uint32_t n_nodes, Config& config,
                      std::vector<std::string>& errors) {
  LinkReader reader(n_nodes, std::filesystem::path(config.source_name).parent_path(), errors);
  if (const toml::node* node = root.get("link_defaults")) {
    if (const toml::table* table = node->as_table()) {
      only_link_keys(reader, *table, "link_defaults", {});
      reader.knobs(*table, "link_defaults", config.link_defaults);
    } else {
      reader.error(fmt::format("link_defaults: {} is not a table", knob_value(*node).shown()));
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
