#pragma once
// The link keys of docs/config.md ("rate", "delay", "loss", ...) read into messages::LinkParams,
// whatever format they were written in. The TOML loader (link_config.cpp) and the HTTP API
// (http_api.cpp) both turn their values into a KnobValue and call LinkKnobReader, so the rules
// (units, ranges, choices, the Gilbert-Elliott table, trace files) exist once.
// Each value is checked on its own (units, ranges, choices); the rules that relate keys are
// messages::check_link_params' (link_params_rules.hpp), applied to the merged result.
// Errors are appended to a caller's list, each naming the key path and the value as written:
// "links[3].delay: '20xs' is not a duration (...)". Thread: none (plain functions and data).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

// One value as written: a string, an integer, a floating-point number, a boolean, a table of
// named values, or something else (a list, a date) that no link key takes.
struct KnobValue {
  enum class Kind { kString, kInteger, kFloat, kBoolean, kTable, kOther };

  Kind kind = Kind::kOther;
  std::string text;  // kString; for kOther, what it is ("a list")
  std::int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  std::vector<std::pair<std::string, KnobValue>> table;  // kTable, in written order

  static KnobValue of_string(std::string value);
  static KnobValue of_integer(std::int64_t value);
  static KnobValue of_float(double value);
  static KnobValue of_boolean(bool value);
  static KnobValue of_table(std::vector<std::pair<std::string, KnobValue>> entries);
  static KnobValue other(std::string what);

  // The value as written, for messages: "\"20xs\"", "3", "true", "a table".
  std::string shown() const;
  // A table's entry, or nullptr.
  const KnobValue* get(std::string_view key) const;
};

// Whether `key` is one of the link keys (including the refused "flow_weight").
bool is_link_key(std::string_view key);
// Every link key, in documentation order.
const std::vector<std::string_view>& link_keys();

class LinkKnobReader {
 public:
  // Relative trace paths are read from `base_dir`. Problems are appended to `errors`.
  LinkKnobReader(std::filesystem::path base_dir, std::vector<std::string>& errors);

  // Reads link key `key` (see is_link_key) into `params`; `path` names it in errors
  // ("links[0].delay", "delay"). Returns false, reporting nothing, for a key that is not a link
  // key.
  bool read(std::string_view key, const KnobValue& value, const std::string& path,
            messages::LinkParams& params);

  // Building blocks the config reader uses for its other keys too.
  std::optional<std::uint64_t> integer(const KnobValue& value, const std::string& path,
                                       std::int64_t min, std::int64_t max, std::string_view what);
  std::optional<bool> boolean(const KnobValue& value, const std::string& path);
  void error(std::string message) { errors_.push_back(std::move(message)); }

 private:
  void rate(const KnobValue& value, const std::string& path, messages::LinkParams& params);
  void gilbert_elliott(const KnobValue& table, const std::string& path,
                       messages::LinkParams& params);
  std::optional<std::string> trace(const KnobValue& value, const std::string& path);
  std::optional<std::string> text(const KnobValue& value, const std::string& path,
                                  std::string_view what);
  std::optional<std::uint64_t> duration(const KnobValue& value, const std::string& path);
  std::optional<double> percent(const KnobValue& value, const std::string& path);
  std::optional<std::uint64_t> size(const KnobValue& value, const std::string& path,
                                    std::uint64_t min);
  std::optional<std::string> choice(const KnobValue& value, const std::string& path,
                                    std::initializer_list<std::string_view> allowed);

  std::filesystem::path base_dir_;
  std::vector<std::string>& errors_;
};

}  // namespace nextmini::controller
