#include "nextmini/messages/codec.hpp"

#include <gtest/gtest.h>

#include <set>
#include <variant>

#include "test/sample_messages.hpp"

namespace nextmini::messages {
namespace {

using testing::sample_messages;

TEST(Codec, RoundTripsEveryMessageType) {
  std::set<std::size_t> covered;
  for (const Message& message : sample_messages()) {
    SCOPED_TRACE(std::string(type_name(message)));
    covered.insert(message.index());
    const auto bytes = encode(message);
    auto decoded = decode(bytes);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().code << ": " << decoded.error().message;
    EXPECT_EQ(decoded->index(), message.index());
    EXPECT_EQ(*decoded, message);
    EXPECT_EQ(encode(*decoded), bytes);
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<Message>) << "a message type has no sample";
}

}  // namespace
}  // namespace nextmini::messages
