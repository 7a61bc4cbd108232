// docs/protocol.md stays in step with the schema: every message has a section, and every field
// of every message and nested struct is named in the document.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "nextmini/messages/messages.hpp"
#include "src/schema.hpp"

namespace nextmini::messages {
namespace {

using detail::Schema;

template <typename T>
concept Described = requires {
  Schema<T>::kFields;
};

template <typename T>
struct Inner {
  using type = T;
};
template <typename T>
struct Inner<std::optional<T>> : Inner<T> {};
template <typename T>
struct Inner<std::vector<T>> : Inner<T> {};
template <typename T>
struct Inner<std::map<std::string, T>> : Inner<T> {};

// Collects "Struct.field" for every field of T and of the structs nested in it.
template <typename T>
void collect_fields(std::set<std::string>& out) {
  std::apply(
      [&](const auto&... field) {
        auto visit = [&](const auto& f) {
          using Member = typename std::decay_t<decltype(f)>::MemberType;
          out.insert(std::string(Schema<T>::kName) + "." + std::string(f.name));
          using Nested = typename Inner<Member>::type;
          if constexpr (Described<Nested>) collect_fields<Nested>(out);
        };
        (visit(field), ...);
      },
      Schema<T>::kFields);
}

template <std::size_t... I>
std::vector<std::string_view> message_names(std::index_sequence<I...>) {
  return {Schema<std::variant_alternative_t<I, Message>>::kName...};
}

template <std::size_t... I>
std::set<std::string> all_fields(std::index_sequence<I...>) {
  std::set<std::string> out;
  (collect_fields<std::variant_alternative_t<I, Message>>(out), ...);
  return out;
}

std::string read_doc() {
  std::ifstream in(NEXTMINI_PROTOCOL_DOC);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

constexpr auto kMessages = std::make_index_sequence<std::variant_size_v<Message>>{};

TEST(ProtocolDoc, EveryMessageHasASection) {
  const std::string doc = read_doc();
  ASSERT_FALSE(doc.empty()) << "cannot read " << NEXTMINI_PROTOCOL_DOC;
  std::vector<std::string> headings;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("### ")) headings.push_back(line);
  }
  for (std::string_view name : message_names(kMessages)) {
    bool found = false;
    for (const auto& heading : headings) {
      // "### Name (dir)" or "### A (dir) and Name (dir)"
      const auto at = heading.find(std::string(name) + " (");
      if (at != std::string::npos && (heading[at - 1] == ' ')) found = true;
    }
    EXPECT_TRUE(found) << "docs/protocol.md has no \"### " << name << " (...)\" section";
  }
}

TEST(ProtocolDoc, EveryFieldIsDocumented) {
  const std::string doc = read_doc();
  ASSERT_FALSE(doc.empty());
  const auto fields = all_fields(kMessages);
  EXPECT_GT(fields.size(), 100u);
  for (const auto& qualified : fields) {
    const std::string field = qualified.substr(qualified.find('.') + 1);
    EXPECT_NE(doc.find("`" + field + "`"), std::string::npos)
        << qualified << " is not named in docs/protocol.md";
  }
}

TEST(ProtocolDoc, HasTheOverlayHeaderSection) {
  // The overlay header's byte layout (dataplane/core/overlay_header.hpp) is documented here too.
  EXPECT_NE(read_doc().find("\n## Overlay header\n"), std::string::npos);
}

}  // namespace
}  // namespace nextmini::messages
