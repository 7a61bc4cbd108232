#include "nextmini/common/json_quote.hpp"

#include <gtest/gtest.h>

namespace nextmini {
namespace {

TEST(JsonQuote, PlainTextIsOnlyQuoted) { EXPECT_EQ(json_quote("ring4 é"), "\"ring4 é\""); }

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_quote("l1\nl2\r\t"), R"("l1\nl2\r\t")");
  EXPECT_EQ(json_quote(std::string_view("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(json_quote(std::string_view("\0", 1)), R"("\u0000")");
}

}  // namespace
}  // namespace nextmini
