#include "nextmini/messages/codec.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <variant>

#include "nextmini/messages/detail/msgpack_reader.hpp"
#include "nextmini/messages/detail/msgpack_writer.hpp"
#include "test/sample_messages.hpp"

namespace nextmini::messages {
namespace {

using detail::MsgpackReader;
using detail::MsgpackWriter;
using testing::sample_messages;
using Bytes = std::vector<std::uint8_t>;

// An envelope written by hand: {"v": version, "type": type, "body": <whatever body writes>}.
Bytes envelope(std::string_view type, const std::function<void(MsgpackWriter&)>& body,
               std::uint64_t version = kProtocolVersion) {
  MsgpackWriter writer;
  writer.write_map_header(3);
  writer.write_str("v");
  writer.write_uint(version);
  writer.write_str("type");
  writer.write_str(type);
  writer.write_str("body");
  body(writer);
  return writer.take();
}

Error decode_error(const Bytes& bytes) {
  auto decoded = decode(bytes);
  if (decoded.has_value()) {
    ADD_FAILURE() << "decoded as " << type_name(*decoded) << " but an error was expected";
    return {};
  }
  return decoded.error();
}

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

TEST(Codec, WireTypeNamesAreStructNamesExceptError) {
  EXPECT_EQ(type_name(StartUp{}), "StartUp");
  EXPECT_EQ(type_name(InstallGroupRoutes{}), "InstallGroupRoutes");
  EXPECT_EQ(type_name(ErrorMessage{}), "Error");
  const auto bytes = encode(ErrorMessage{"auth.denied", "bad token", "StartUp"});
  MsgpackReader reader(bytes);
  ASSERT_EQ(*reader.read_map_header(), 3u);
  EXPECT_EQ(*reader.read_str(), "v");
  EXPECT_EQ(*reader.read_uint(), kProtocolVersion);
  EXPECT_EQ(*reader.read_str(), "type");
  EXPECT_EQ(*reader.read_str(), "Error");
  EXPECT_EQ(*reader.read_str(), "body");
  ASSERT_EQ(*reader.read_map_header(), 3u);
  EXPECT_EQ(*reader.read_str(), "code");
  EXPECT_EQ(*reader.read_str(), "auth.denied");
}

TEST(Codec, FieldsAreEncodedByNameAndUnsetOptionalsOmitted) {
  SetLinkParams message{4, 5, {}};
  message.params.delay_ns = 0;
  const auto bytes = encode(message);
  // Walk to the body and read it back field by field.
  MsgpackReader reader(bytes);
  ASSERT_EQ(*reader.read_map_header(), 3u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(reader.skip().has_value());
    ASSERT_TRUE(reader.skip().has_value());
  }
  EXPECT_EQ(*reader.read_str(), "body");
  ASSERT_EQ(*reader.read_map_header(), 3u);
  EXPECT_EQ(*reader.read_str(), "src");
  EXPECT_EQ(*reader.read_uint(), 4u);
  EXPECT_EQ(*reader.read_str(), "dst");
  EXPECT_EQ(*reader.read_uint(), 5u);
  EXPECT_EQ(*reader.read_str(), "params");
  ASSERT_EQ(*reader.read_map_header(), 1u) << "only the set optional is on the wire";
  EXPECT_EQ(*reader.read_str(), "delay_ns");
  EXPECT_EQ(*reader.read_uint(), 0u);
  EXPECT_TRUE(reader.at_end());
}

TEST(Codec, UnknownFieldsInBodyAndEnvelopeAreIgnored) {
  MsgpackWriter writer;
  writer.write_map_header(5);
  writer.write_str("body");  // keys in another order than encode() writes them
  writer.write_map_header(4);
  writer.write_str("node_id");
  writer.write_uint(9);
  writer.write_str("future_field");
  writer.write_map_header(1);
  writer.write_str("nested");
  writer.write_array_header(2);
  writer.write_float64(1.0);
  writer.write_bin(Bytes{1, 2, 3});
  writer.write_str("link_port");
  writer.write_uint(4000);
  writer.write_str("another");
  writer.write_nil();
  writer.write_str("trace_id");  // an envelope field from a newer peer
  writer.write_str("abc");
  writer.write_str("type");
  writer.write_str("StartUp");
  writer.write_str("v");
  writer.write_uint(kProtocolVersion);
  writer.write_str("priority");
  writer.write_int(-3);
  auto decoded = decode(writer.bytes());
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  const StartUp expected{9, "", "", 4000, ""};
  EXPECT_EQ(std::get<StartUp>(*decoded), expected);
}

TEST(Codec, UnknownFieldsInNestedStructsAreIgnored) {
  auto decoded = decode(envelope("InstallRoutes", [](MsgpackWriter& w) {
    w.write_map_header(1);
    w.write_str("routes");
    w.write_array_header(1);
    w.write_map_header(3);
    w.write_str("route_id");
    w.write_uint(5);
    w.write_str("latency_class");  // unknown to this build
    w.write_str("gold");
    w.write_str("next_hops");
    w.write_array_header(1);
    w.write_uint(2);
  }));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  const auto& routes = std::get<InstallRoutes>(*decoded).routes;
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0], (RouteEntry{5, 0, 0, 1, {2}, false}));
}

TEST(Codec, AnyIntegerFormatThatFitsIsAccepted) {
  // Peers may write small non-negative values in signed or wide formats. Hand-made body:
  // {"node_id": int32 7, "link_port": uint64 8000, "dial": false}, keys in a different order.
  Bytes bytes = envelope("AddNode", [](MsgpackWriter& w) { w.write_map_header(3); });
  const Bytes fields{0xa4, 'd',  'i',  'a',  'l',  0xc2, 0xa7, 'n',  'o',  'd',  'e',  '_', 'i',
                     'd',  0xd2, 0x00, 0x00, 0x00, 0x07, 0xa9, 'l',  'i',  'n',  'k',  '_', 'p',
                     'o',  'r',  't',  0xcf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x40};
  bytes.insert(bytes.end(), fields.begin(), fields.end());
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  EXPECT_EQ(std::get<AddNode>(*decoded), (AddNode{7, "", 8000, false}));
}

TEST(Codec, MissingFieldsKeepTheirDefaults) {
  auto decoded = decode(envelope("StartUpReply", [](MsgpackWriter& w) {
    w.write_map_header(1);
    w.write_str("node_id");
    w.write_uint(3);
  }));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  StartUpReply expected;
  expected.node_id = 3;
  EXPECT_EQ(std::get<StartUpReply>(*decoded), expected);
  EXPECT_EQ(std::get<StartUpReply>(*decoded).protocol, "tcp");
  EXPECT_EQ(std::get<StartUpReply>(*decoded).mtu, 1400u);
}

TEST(Codec, NilOptionalIsUnsetAndIntegersAreAcceptedAsFloats) {
  auto decoded = decode(envelope("SetLinkParams", [](MsgpackWriter& w) {
    w.write_map_header(1);
    w.write_str("params");
    w.write_map_header(3);
    w.write_str("rate_bps");
    w.write_nil();
    w.write_str("loss_percent");
    w.write_uint(2);
    w.write_str("corrupt_percent");
    w.write_float32(0.5f);
  }));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  const auto& params = std::get<SetLinkParams>(*decoded).params;
  EXPECT_FALSE(params.rate_bps.has_value());
  EXPECT_EQ(params.loss_percent, 2.0);
  EXPECT_EQ(params.corrupt_percent, 0.5);
  EXPECT_FALSE(params.delay_ns.has_value());
}

// ---- errors -------------------------------------------------------------------------------------

TEST(CodecErrors, UndecodableBytesAreMalformed) {
  const std::vector<Bytes> cases{
      {},                              // nothing
      {0xc1},                          // never-used format byte
      {'h', 'e', 'l', 'l', 'o'},       // text
      {0x92, 0x01, 0x02},              // an array, not a map
      {0xa3, 'a', 'b', 'c'},           // a string
      {0x80},                          // an empty map: no v, no type, no body
      {0x81, 0x01, 0x02},              // a map whose key is not a str
      {0xdf, 0xff, 0xff, 0xff, 0xff},  // a map claiming 4 G entries
  };
  for (const auto& bytes : cases) {
    EXPECT_EQ(decode_error(bytes).code, "decode.malformed") << bytes.size();
  }
}

TEST(CodecErrors, DeepNestingIsMalformed) {
  // An unknown body field holding 100 nested arrays: deeper than the reader's limit of 64.
  const auto deep = envelope("StartUp", [](MsgpackWriter& w) {
    w.write_map_header(1);
    w.write_str("future");
    for (int i = 0; i < 100; ++i) w.write_array_header(1);
    w.write_nil();
  });
  const auto error = decode_error(deep);
  EXPECT_EQ(error.code, "decode.malformed");
  EXPECT_NE(error.message.find("nested deeper"), std::string::npos) << error.message;
  // 50 levels are fine, and ignored as an unknown field.
  const auto ok = envelope("StartUp", [](MsgpackWriter& w) {
    w.write_map_header(1);
    w.write_str("future");
    for (int i = 0; i < 50; ++i) w.write_array_header(1);
    w.write_nil();
  });
  EXPECT_TRUE(decode(ok).has_value());
}

TEST(CodecErrors, TrailingBytesAreMalformed) {
  auto bytes = encode(NodeTopologyReady{3});
  bytes.push_back(0x00);
  const auto error = decode_error(bytes);
  EXPECT_EQ(error.code, "decode.malformed");
  EXPECT_NE(error.message.find("after the end"), std::string::npos) << error.message;
}

TEST(CodecErrors, EveryTruncationOfEveryMessageIsMalformed) {
  for (const Message& message : sample_messages()) {
    const auto whole = encode(message);
    for (std::size_t size = 0; size < whole.size(); ++size) {
      const Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size));
      const auto error = decode_error(prefix);
      ASSERT_EQ(error.code, "decode.malformed")
          << type_name(message) << " cut to " << size << " of " << whole.size() << " bytes";
    }
  }
}

TEST(CodecErrors, EnvelopeShape) {
  auto no_version = [] {
    MsgpackWriter w;
    w.write_map_header(2);
    w.write_str("type");
    w.write_str("StartUp");
    w.write_str("body");
    w.write_map_header(0);
    return w.take();
  }();
  EXPECT_EQ(decode_error(no_version).code, "decode.malformed");

  auto string_version = [] {
    MsgpackWriter w;
    w.write_map_header(3);
    w.write_str("v");
    w.write_str("1");
    w.write_str("type");
    w.write_str("StartUp");
    w.write_str("body");
    w.write_map_header(0);
    return w.take();
  }();
  EXPECT_EQ(decode_error(string_version).code, "decode.malformed");

  auto no_body = [] {
    MsgpackWriter w;
    w.write_map_header(2);
    w.write_str("v");
    w.write_uint(kProtocolVersion);
    w.write_str("type");
    w.write_str("StartUp");
    return w.take();
  }();
  const auto error = decode_error(no_body);
  EXPECT_EQ(error.code, "decode.malformed");
  EXPECT_NE(error.message.find("body"), std::string::npos) << error.message;

  const auto body_is_array = envelope("StartUp", [](MsgpackWriter& w) { w.write_array_header(0); });
  EXPECT_EQ(decode_error(body_is_array).code, "decode.malformed");

  const auto type_is_int = [] {
    MsgpackWriter w;
    w.write_map_header(3);
    w.write_str("v");
    w.write_uint(kProtocolVersion);
    w.write_str("type");
    w.write_uint(1);
    w.write_str("body");
    w.write_map_header(0);
    return w.take();
  }();
  EXPECT_EQ(decode_error(type_is_int).code, "decode.malformed");
}

TEST(CodecErrors, DuplicateEnvelopeKeysAreMalformed) {
  MsgpackWriter w;
  w.write_map_header(4);
  w.write_str("v");
  w.write_uint(kProtocolVersion);
  w.write_str("type");
  w.write_str("StartUp");
  w.write_str("type");
  w.write_str("AddNode");
  w.write_str("body");
  w.write_map_header(0);
  const auto error = decode_error(w.bytes());
  EXPECT_EQ(error.code, "decode.malformed");
  EXPECT_EQ(error.message, "envelope has two \"type\" keys");
}

TEST(CodecErrors, OtherVersionIsRejected) {
  for (std::uint64_t version :
       {std::uint64_t{0}, std::uint64_t{kProtocolVersion + 1}, std::uint64_t{1} << 40}) {
    const auto error = decode_error(envelope(
        "StartUp", [](MsgpackWriter& w) { w.write_map_header(0); }, version));
    EXPECT_EQ(error.code, "decode.version") << version;
    EXPECT_NE(error.message.find(std::to_string(version)), std::string::npos) << error.message;
  }
}

TEST(CodecErrors, UnknownTypeIsNamed) {
  const auto error =
      decode_error(envelope("Teleport", [](MsgpackWriter& w) { w.write_map_header(0); }));
  EXPECT_EQ(error.code, "decode.unknown_type");
  EXPECT_NE(error.message.find("Teleport"), std::string::npos) << error.message;
  // The struct name of ErrorMessage is not its wire name.
  EXPECT_EQ(
      decode_error(envelope("ErrorMessage", [](MsgpackWriter& w) { w.write_map_header(0); })).code,
      "decode.unknown_type");
  // A hostile name is shown escaped, not raw.
  const auto odd =
      decode_error(envelope("A\n\x01", [](MsgpackWriter& w) { w.write_map_header(0); }));
  EXPECT_EQ(odd.code, "decode.unknown_type");
  EXPECT_NE(odd.message.find("A\\x0a\\x01"), std::string::npos) << odd.message;
}

struct FieldCase {
  std::string type;
  std::function<void(MsgpackWriter&)> body;
  std::string message;
};

TEST(CodecErrors, WrongFieldTypesNameTheField) {
  const std::vector<FieldCase> cases{
      {"InstallRoutes",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("routes");
         w.write_array_header(3);
         w.write_map_header(0);
         w.write_map_header(0);
         w.write_map_header(1);
         w.write_str("next_hops");
         w.write_str("2,3");
       },
       "InstallRoutes.routes[2].next_hops: expected array, got str"},
      {"StartUp",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("link_port");
         w.write_uint(70000);
       },
       "StartUp.link_port: 70000 is out of range for uint16"},
      {"StartUp",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("node_id");
         w.write_int(-1);
       },
       "StartUp.node_id: -1 is negative, out of range for uint32"},
      {"AppFlowStart",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("ip_protocol");
         w.write_uint(256);
       },
       "AppFlowStart.ip_protocol: 256 is out of range for uint8"},
      {"AddNode",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("dial");
         w.write_uint(1);
       },
       "AddNode.dial: expected bool, got unsigned integer"},
      {"SetLinkParams",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("params");
         w.write_map_header(1);
         w.write_str("loss_percent");
         w.write_str("1%");
       },
       "SetLinkParams.params.loss_percent: expected float, got str"},
      {"Metrics",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("links");
         w.write_array_header(1);
         w.write_map_header(1);
         w.write_str("drops");
         w.write_map_header(1);
         w.write_str("queue_full");
         w.write_float64(1.0);
       },
       "Metrics.links[0].drops[\"queue_full\"]: expected integer, got float64"},
      {"Metrics",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("drops");
         w.write_map_header(1);
         w.write_uint(5);
         w.write_uint(1);
       },
       "Metrics.drops: map key 0 is not a str"},
      {"Error",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("code");
         w.write_nil();
       },
       "Error.code: expected str, got nil"},
      {"JoinGroup",
       [](MsgpackWriter& w) {
         w.write_map_header(2);
         w.write_str("group_id");
         w.write_uint(1);
         w.write_str("group_id");
         w.write_uint(2);
       },
       "JoinGroup.group_id: duplicate key"},
      {"SetGroupRoutes",
       [](MsgpackWriter& w) {
         w.write_map_header(1);
         w.write_str("trees");
         w.write_array_header(1);
         w.write_map_header(1);
         w.write_str("edges");
         w.write_array_header(1);
         w.write_array_header(2);
         w.write_uint(1);
         w.write_uint(2);
       },
       "SetGroupRoutes.trees[0].edges[0]: expected map, got array"},
  };
  for (const auto& c : cases) {
    const auto error = decode_error(envelope(c.type, c.body));
    EXPECT_EQ(error.code, "decode.field") << c.message;
    EXPECT_EQ(error.message, c.message);
  }
}

TEST(CodecErrors, PeekTypeNameWorksWhenTheBodyDoesNot) {
  const auto bad_body = envelope("StartUp", [](MsgpackWriter& w) {
    w.write_map_header(1);
    w.write_str("link_port");
    w.write_str("http");
  });
  EXPECT_EQ(decode_error(bad_body).code, "decode.field");
  EXPECT_EQ(peek_type_name(bad_body), "StartUp");
  EXPECT_EQ(peek_type_name(encode(Metrics{})), "Metrics");
  EXPECT_EQ(peek_type_name(envelope("Teleport", [](MsgpackWriter& w) { w.write_nil(); })),
            "Teleport");
  EXPECT_EQ(peek_type_name(Bytes{}), "");
  EXPECT_EQ(peek_type_name(Bytes{0x92, 0x01, 0x02}), "");
  auto truncated = encode(StartUp{});
  truncated.resize(4);  // cut inside the "v" entry, before "type"
  EXPECT_EQ(peek_type_name(truncated), "");
  const std::string long_name(1000, 'T');
  EXPECT_EQ(peek_type_name(envelope(long_name, [](MsgpackWriter& w) { w.write_nil(); })).size(),
            kMaxPeekedTypeName);
}

// ---- the fuzz seed corpus stays in step with the codec ------------------------------------------

TEST(CodecCorpus, SeedFilesDecodeAsTheirNamesSay) {
  const std::filesystem::path dir(NEXTMINI_MESSAGES_CORPUS_DIR);
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::size_t valid = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::ifstream in(entry.path(), std::ios::binary);
    const Bytes bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto decoded = decode(bytes);
    if (name.starts_with("valid_")) {
      ASSERT_TRUE(decoded.has_value()) << name << ": " << decoded.error().message;
      EXPECT_NE(name.find("_" + std::string(type_name(*decoded)) + "."), std::string::npos) << name;
      EXPECT_EQ(encode(*decoded), bytes) << name;
      ++valid;
    } else {
      EXPECT_FALSE(decoded.has_value()) << name;
    }
  }
  EXPECT_EQ(valid, sample_messages().size())
      << "regenerate with: messages_write_corpus fuzz/corpus/messages_decode";
}

}  // namespace
}  // namespace nextmini::messages
