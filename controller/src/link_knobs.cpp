#include "nextmini/controller/link_knobs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "nextmini/controller/units.hpp"
#include "nextmini/messages/link_params_rules.hpp"
#include "nextmini/messages/mahimahi_trace.hpp"

namespace nextmini::controller {

namespace {

using messages::LinkParams;

// Largest trace file the controller reads (a 10-Gbit/s trace of 10 s is about 40 MB).
constexpr std::uintmax_t kMaxTraceBytes = 64ull << 20;

}  // namespace

KnobValue KnobValue::of_string(std::string value) {
  KnobValue v;
  v.kind = Kind::kString;
  v.text = std::move(value);
  return v;
}

KnobValue KnobValue::of_integer(std::int64_t value) {
  KnobValue v;
  v.kind = Kind::kInteger;
  v.integer = value;
  return v;
}

KnobValue KnobValue::of_float(double value) {
  KnobValue v;
  v.kind = Kind::kFloat;
  v.number = value;
  return v;
}

KnobValue KnobValue::of_boolean(bool value) {
  KnobValue v;
  v.kind = Kind::kBoolean;
  v.boolean = value;
  return v;
}

KnobValue KnobValue::of_table(std::vector<std::pair<std::string, KnobValue>> entries) {
  KnobValue v;
  v.kind = Kind::kTable;
  v.table = std::move(entries);
  return v;
}

KnobValue KnobValue::other(std::string what) {
  KnobValue v;
  v.kind = Kind::kOther;
  v.text = std::move(what);
  return v;
}

std::string KnobValue::shown() const {
  switch (kind) {
    case Kind::kString:
      return fmt::format("\"{}\"", text);
    case Kind::kInteger:
      return std::to_string(integer);
    case Kind::kFloat: {
      std::ostringstream out;
      out << number;
      return out.str();
    }
    case Kind::kBoolean:
      return boolean ? "true" : "false";
    case Kind::kTable:
      return "a table";
    case Kind::kOther:
      break;
  }
  return text;
}

const KnobValue* KnobValue::get(std::string_view key) const {
  for (const auto& [name, value] : table) {
    if (name == key) return &value;
  }
  return nullptr;
}

const std::vector<std::string_view>& link_keys() {
  static const std::vector<std::string_view> keys = {
      "rate",        "burst",     "trace",     "delay",   "jitter",        "jitter_distribution",
      "reorder",     "loss",      "duplicate", "corrupt", "queue_packets", "queue_bytes",
      "drop_policy", "scheduler", "mtu",       "up",      "flow_weight"};
  return keys;
}

bool is_link_key(std::string_view key) {
  const auto& keys = link_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

LinkKnobReader::LinkKnobReader(std::filesystem::path base_dir, std::vector<std::string>& errors)
    : base_dir_(std::move(base_dir)), errors_(errors) {}

bool LinkKnobReader::read(std::string_view key, const KnobValue& value, const std::string& path,
                          LinkParams& params) {
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
    if (value.kind == KnobValue::Kind::kTable) {
      gilbert_elliott(value, path, params);
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
  } else {
    return false;
  }
  return true;
}

std::optional<std::uint64_t> LinkKnobReader::integer(const KnobValue& value,
                                                     const std::string& path, std::int64_t min,
                                                     std::int64_t max, std::string_view what) {
  if (value.kind != KnobValue::Kind::kInteger || value.integer < min || value.integer > max) {
    error(fmt::format("{}: {} is not {}", path, value.shown(), what));
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value.integer);
}

std::optional<bool> LinkKnobReader::boolean(const KnobValue& value, const std::string& path) {
  if (value.kind == KnobValue::Kind::kBoolean) return value.boolean;
  error(fmt::format("{}: {} is not true or false", path, value.shown()));
  return std::nullopt;
}

// trace = "path": read (relative to base_dir) and checked to parse.
std::optional<std::string> LinkKnobReader::trace(const KnobValue& value, const std::string& path) {
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
void LinkKnobReader::gilbert_elliott(const KnobValue& table, const std::string& path,
                                     LinkParams& params) {
  const std::size_t before = errors_.size();
  for (const auto& [name, value] : table.table) {
    if (name != "model" && name != "p" && name != "r" && name != "one_minus_h" &&
        name != "one_minus_k") {
      error(fmt::format("{}.{}: unknown key", path, name));
    }
  }
  if (const KnobValue* model = table.get("model"); model == nullptr) {
    error(fmt::format("{}.model: missing (\"gilbert_elliott\")", path));
  } else {
    choice(*model, path + ".model", {"gilbert_elliott"});
  }
  auto part = [&](std::string_view key, std::optional<double> fallback) {
    const KnobValue* value = table.get(key);
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

std::optional<std::string> LinkKnobReader::text(const KnobValue& value, const std::string& path,
                                                std::string_view what) {
  if (value.kind == KnobValue::Kind::kString) return value.text;
  error(fmt::format("{}: {} is not {}", path, value.shown(), what));
  return std::nullopt;
}

void LinkKnobReader::rate(const KnobValue& value, const std::string& path, LinkParams& params) {
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

std::optional<std::uint64_t> LinkKnobReader::duration(const KnobValue& value,
                                                      const std::string& path) {
  auto written = text(value, path, "a duration such as \"10ms\"");
  if (!written) return std::nullopt;
  auto ns = parse_duration_ns(*written);
  if (!ns) {
    error(fmt::format("{}: {}", path, ns.error().message));
    return std::nullopt;
  }
  return *ns;
}

std::optional<double> LinkKnobReader::percent(const KnobValue& value, const std::string& path) {
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
std::optional<std::uint64_t> LinkKnobReader::size(const KnobValue& value, const std::string& path,
                                                  std::uint64_t min) {
  std::optional<std::uint64_t> bytes;
  if (value.kind == KnobValue::Kind::kInteger && value.integer >= 0) {
    bytes = static_cast<std::uint64_t>(value.integer);
  } else if (value.kind == KnobValue::Kind::kString) {
    auto parsed = parse_size_bytes(value.text);
    if (!parsed) {
      error(fmt::format("{}: {}", path, parsed.error().message));
      return std::nullopt;
    }
    bytes = *parsed;
  } else {
    error(fmt::format("{}: {} is not a size such as 1500 or \"64kib\"", path, value.shown()));
    return std::nullopt;
  }
  if (*bytes < min) {
    error(fmt::format("{}: {} is smaller than {} byte", path, value.shown(), min));
    return std::nullopt;
  }
  return bytes;
}

std::optional<std::string> LinkKnobReader::choice(const KnobValue& value, const std::string& path,
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

}  // namespace nextmini::controller
