#include "nextmini/controller/pg/edges_json.hpp"

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace nextmini::controller::pg {

namespace {

class EdgeParser {
 public:
  explicit EdgeParser(std::string_view text) : text_(text) {}

  Result<EdgeList> parse() {
    EdgeList edges;
    skip_space();
    if (!take('[')) return problem("is not a JSON list");
    skip_space();
    if (take(']')) return finish(std::move(edges));
    for (;;) {
      auto pair = parse_pair(edges.size() + 1);
      if (!pair) return Failure{pair.error()};
      edges.push_back(*pair);
      skip_space();
      if (take(']')) return finish(std::move(edges));
      if (!take(',')) return problem("is not a JSON list of pairs");
      skip_space();
    }
  }

 private:
  Result<std::pair<messages::NodeId, messages::NodeId>> parse_pair(std::size_t element) {
    const auto bad = [&] {
      return fail("store.bad_row",
                  fmt::format("edges: element {} is not a [from, to] pair of node ids", element));
    };
    if (!take('[')) return bad();
    skip_space();
    auto from = parse_id();
    skip_space();
    if (!from || !take(',')) return bad();
    skip_space();
    auto to = parse_id();
    skip_space();
    if (!to || !take(']')) return bad();
    return std::pair{*from, *to};
  }

  std::optional<messages::NodeId> parse_id() {
    std::uint64_t value = 0;
    const char* begin = text_.data() + at_;
    const auto [end, error] = std::from_chars(begin, text_.data() + text_.size(), value);
    if (error != std::errc{} || end == begin || value == 0 ||
        value > std::numeric_limits<messages::NodeId>::max()) {
      return std::nullopt;
    }
    at_ += static_cast<std::size_t>(end - begin);
    return static_cast<messages::NodeId>(value);
  }

  Result<EdgeList> finish(EdgeList edges) {
    skip_space();
    if (at_ != text_.size()) return problem("has text after the list");
    return edges;
  }

  Failure problem(std::string_view what) const {
    constexpr std::size_t kShown = 60;
    const std::string shown =
        text_.size() > kShown ? std::string(text_.substr(0, kShown)) + "..." : std::string(text_);
    return fail("store.bad_row", fmt::format("edges: '{}' {}; expected a list of [from, to] "
                                             "node-id pairs such as [[1, 2], [2, 3]]",
                                             shown, what));
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t' || text_[at_] == '\r')) {
      ++at_;
    }
  }
  bool take(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

Result<EdgeList> parse_edges(std::string_view json) { return EdgeParser(json).parse(); }

std::string format_edges(const EdgeList& edges) {
  std::string out = "[";
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("[{}, {}]", edges[i].first, edges[i].second);
  }
  out += "]";
  return out;
}

}  // namespace nextmini::controller::pg
