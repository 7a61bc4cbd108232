// Writes the seed corpus of the messages_decode fuzz target: one encoded message per sample
// (valid_<NN>_<Type>.msgpack) and a few frames that must be rejected (error_*.msgpack).
// Usage: messages_write_corpus DIR   (the committed corpus is fuzz/corpus/messages_decode).

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nextmini/messages/codec.hpp"
#include "nextmini/messages/detail/msgpack_writer.hpp"
#include "sample_messages.hpp"

namespace {

bool write(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

std::vector<std::uint8_t> envelope(std::uint64_t version, std::string_view type) {
  nextmini::messages::detail::MsgpackWriter writer;
  writer.write_map_header(3);
  writer.write_str("v");
  writer.write_uint(version);
  writer.write_str("type");
  writer.write_str(type);
  writer.write_str("body");
  writer.write_map_header(1);
  writer.write_str("node_id");
  writer.write_uint(1);
  return writer.take();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nextmini::messages;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  int written = 0;
  const auto samples = testing::sample_messages();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    char name[96];
    std::snprintf(name, sizeof(name), "valid_%02zu_%s.msgpack", i,
                  std::string(type_name(samples[i])).c_str());
    if (!write(dir / name, encode(samples[i]))) return 1;
    ++written;
  }
  auto truncated = encode(samples.front());
  truncated.resize(truncated.size() / 2);
  if (!write(dir / "error_truncated.msgpack", truncated)) return 1;
  if (!write(dir / "error_version.msgpack", envelope(kProtocolVersion + 1, "StartUp"))) return 1;
  if (!write(dir / "error_unknown_type.msgpack", envelope(kProtocolVersion, "Teleport"))) return 1;
  written += 3;
  std::printf("wrote %d files to %s\n", written, dir.c_str());
  return 0;
}
