#include "toml_text.hpp"

#include <sstream>
#include <utility>
#include <vector>

namespace nextmini::controller {

std::string describe_toml_value(const toml::node& node) {
  if (const auto* s = node.as_string()) return quoted_value(s->get());
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* array = node.as_array()) {
    std::string out = "[";
    bool first = true;
    for (const auto& element : *array) {
      if (!first) out += ", ";
      first = false;
      out += describe_toml_value(element);
    }
    return out + "]";
  }
  if (node.is_table()) return "a table";
  return "a date/time";
}

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
  return KnobValue::other(describe_toml_value(node));
}

}  // namespace nextmini::controller
