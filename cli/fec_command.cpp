// `nextmini fec encode|decode|bench`: the RaptorQ (RFC 6330) codec on files, in the format of
// ../shared/raptorq-vectors (OTI: 12 bytes; packets: 4-byte big-endian length, then the FEC
// Payload ID and the symbol), so any other implementation can be checked against ours and ours
// against it; and a one-core throughput measurement.

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "command_registry.hpp"
#include "nextmini/raptorq/raptorq.hpp"

namespace nextmini::cli {
namespace {

using raptorq::BlockDecoder;
using raptorq::BlockEncoder;
using raptorq::ObjectDecoder;
using raptorq::ObjectEncoder;
using raptorq::ObjectTransmissionInfo;

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandFailure{fmt::format("cannot open {}", path), 1};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw CommandFailure{fmt::format("cannot write {}", path), 1};
}

struct EncodeArgs {
  int symbol_size = 0;
  int source_blocks = 0;  // 0: the fewest that fit
  int sub_blocks = 1;
  int alignment = 0;  // 0: 4 when T is a multiple of 4, else 1
  int repair = 0;
  std::string input;
  std::string out_prefix;
};

void run_encode(const EncodeArgs& args) {
  if (args.symbol_size < 1 || args.symbol_size > 65535) {
    throw CommandFailure{"--symbol-size must be in 1..65535", 2};
  }
  if (args.source_blocks < 0 || args.source_blocks > 255) {
    throw CommandFailure{"--source-blocks must be in 1..255", 2};
  }
  if (args.sub_blocks < 1 || args.sub_blocks > 65535) {
    throw CommandFailure{"--sub-blocks must be in 1..65535", 2};
  }
  if (args.alignment < 0 || args.alignment > 255) {
    throw CommandFailure{"--alignment must be in 1..255", 2};
  }
  if (args.repair < 0) throw CommandFailure{"--repair must be >= 0", 2};
  const auto object = read_file(args.input);
  if (object.empty()) throw CommandFailure{fmt::format("{} is empty", args.input), 2};
  const auto t = static_cast<std::uint16_t>(args.symbol_size);
  std::uint8_t al = static_cast<std::uint8_t>(args.alignment);
  if (al == 0) al = t % 4 == 0 ? 4 : 1;
  auto oti = ObjectTransmissionInfo::for_object(object.size(), t, al);
  if (!oti) throw CommandFailure{oti.error().message, 2};
  if (args.source_blocks > 0) oti->source_blocks = static_cast<std::uint8_t>(args.source_blocks);
  oti->sub_blocks = static_cast<std::uint16_t>(args.sub_blocks);
  if (auto valid = oti->validate(); !valid) throw CommandFailure{valid.error().message, 2};
  auto encoder = ObjectEncoder::create(object, *oti);
  if (!encoder) throw CommandFailure{encoder.error().message, 1};
  const auto oti_bytes = oti->encode();
  write_file(args.out_prefix + ".oti", {oti_bytes.begin(), oti_bytes.end()});
  std::vector<std::uint8_t> packets;
  std::size_t count = 0;
  for (const auto& packet : encoder->packets(static_cast<std::uint32_t>(args.repair))) {
    const auto len = static_cast<std::uint32_t>(packet.size());
    packets.push_back(static_cast<std::uint8_t>(len >> 24));
    packets.push_back(static_cast<std::uint8_t>(len >> 16));
    packets.push_back(static_cast<std::uint8_t>(len >> 8));
    packets.push_back(static_cast<std::uint8_t>(len));
    packets.insert(packets.end(), packet.begin(), packet.end());
    ++count;
  }
  write_file(args.out_prefix + ".enc", packets);
  std::printf("F=%llu T=%u Z=%u N=%u Al=%u: %zu packets in %s.enc\n",
              static_cast<unsigned long long>(oti->transfer_length), oti->symbol_size,
              oti->source_blocks, oti->sub_blocks, oti->alignment, count, args.out_prefix.c_str());
}

struct DecodeArgs {
  std::string oti_path;
  std::string packets_path;
  std::string output;
};

void run_decode(const DecodeArgs& args) {
  auto oti = ObjectTransmissionInfo::parse(read_file(args.oti_path));
  if (!oti) throw CommandFailure{fmt::format("{}: {}", args.oti_path, oti.error().message), 2};
  auto decoder = ObjectDecoder::create(*oti);
  if (!decoder) throw CommandFailure{decoder.error().message, 2};
  const auto file = read_file(args.packets_path);
  std::size_t pos = 0;
  std::size_t index = 0;
  std::size_t refused = 0;
  while (pos < file.size() && !decoder->complete()) {
    // A cut-off last record (a truncated capture) ends the input; what came before still counts.
    if (file.size() - pos < 4) {
      std::fprintf(stderr, "nextmini: %s: %zu stray bytes at the end ignored\n",
                   args.packets_path.c_str(), file.size() - pos);
      break;
    }
    const std::size_t len = (static_cast<std::size_t>(file[pos]) << 24) |
                            (static_cast<std::size_t>(file[pos + 1]) << 16) |
                            (static_cast<std::size_t>(file[pos + 2]) << 8) | file[pos + 3];
    pos += 4;
    if (file.size() - pos < len) {
      std::fprintf(stderr, "nextmini: %s: packet %zu claims %zu bytes, only %zu left: ignored\n",
                   args.packets_path.c_str(), index, len, file.size() - pos);
      break;
    }
    auto added = decoder->add_packet(std::span(file.data() + pos, len));
    if (!added) {
      std::fprintf(stderr, "nextmini: packet %zu refused: %s\n", index,
                   added.error().message.c_str());
      ++refused;
    }
    pos += len;
    ++index;
  }
  auto object = decoder->object();
  if (!object) {
    throw CommandFailure{fmt::format("not enough packets to decode: {} ({} packets read)",
                                     object.error().message, index),
                         1};
  }
  write_file(args.output, *object);
  std::printf("decoded %zu bytes from %zu packets (%zu refused)\n", object->size(), index, refused);
}

struct BenchArgs {
  int symbols = 1000;
  int symbol_size = 1280;
  double seconds = 2;
};

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct RunTime {
  double cpu = 0;   // this thread's CPU seconds per run: the one-core cost
  double wall = 0;  // wall-clock seconds per run (higher when other processes share the core)
};

// Runs body repeatedly for about `seconds` of wall time.
template <typename Body>
RunTime time_per_run(double seconds, Body&& body) {
  using Clock = std::chrono::steady_clock;
  body();  // warm-up (and the encoder's plan cache)
  std::size_t runs = 0;
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_seconds();
  double elapsed = 0;
  do {
    body();
    ++runs;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  return {(thread_cpu_seconds() - cpu_start) / static_cast<double>(runs),
          elapsed / static_cast<double>(runs)};
}

void run_bench(const BenchArgs& args) {
  if (args.symbols < 1 || args.symbols > 56403)
    throw CommandFailure{"--symbols must be in 1..56403", 2};
  if (args.symbol_size < 1 || args.symbol_size > 65535) {
    throw CommandFailure{"--symbol-size must be in 1..65535", 2};
  }
  if (args.seconds <= 0) throw CommandFailure{"--seconds must be > 0", 2};
  const auto k = static_cast<std::uint32_t>(args.symbols);
  const auto t = static_cast<std::uint16_t>(args.symbol_size);
  std::vector<std::uint8_t> source(static_cast<std::size_t>(k) * t);
  std::mt19937_64 rng(42);
  for (auto& byte : source) byte = static_cast<std::uint8_t>(rng());

  // Encode: intermediate symbols from the source block, then K repair symbols.
  std::vector<std::uint8_t> repair(static_cast<std::size_t>(k) * t);
  const RunTime encode_s = time_per_run(args.seconds / 2, [&] {
    auto encoder = BlockEncoder::create(source, t);
    if (!encoder) throw CommandFailure{encoder.error().message, 1};
    if (auto made = encoder->encode_range(k, k, repair); !made) {
      throw CommandFailure{made.error().message, 1};
    }
  });

  // Decode: repair symbols only, K + 2 of them (the decoder stops as soon as it can).
  std::vector<std::uint8_t> received(static_cast<std::size_t>(k + 2) * t);
  {
    auto encoder = BlockEncoder::create(source, t);
    for (std::uint32_t i = 0; i < k + 2; ++i) {
      encoder->encode_unchecked(k + i, received.data() + static_cast<std::size_t>(i) * t);
    }
  }
  bool verified = false;  // the first (warm-up) run checks the bytes; timed runs do not
  const RunTime decode_s = time_per_run(args.seconds / 2, [&] {
    auto decoder = BlockDecoder::create(k, t);
    if (!decoder) throw CommandFailure{decoder.error().message, 1};
    bool done = false;
    for (std::uint32_t i = 0; i < k + 2 && !done; ++i) {
      auto added = decoder->add_symbol(
          k + i, std::span(received.data() + static_cast<std::size_t>(i) * t, t));
      done = added && *added;
    }
    if (!done) throw CommandFailure{"decode benchmark: the block did not decode", 1};
    if (!verified) {
      if (!std::equal(source.begin(), source.end(), decoder->source_block().begin())) {
        throw CommandFailure{"decode benchmark: the block decoded to the wrong bytes", 1};
      }
      verified = true;
    }
  });
  const double bits = static_cast<double>(source.size()) * 8;
  const double encode_mbps = bits / encode_s.cpu / 1e6;
  const double decode_mbps = bits / decode_s.cpu / 1e6;
  std::printf(
      "K=%u T=%u (per core, thread CPU time): encode %.1f Mbit/s (%.3f ms/block, wall %.3f), "
      "decode %.1f Mbit/s (%.3f ms/block, wall %.3f)\n",
      k, t, encode_mbps, encode_s.cpu * 1e3, encode_s.wall * 1e3, decode_mbps, decode_s.cpu * 1e3,
      decode_s.wall * 1e3);
  std::printf("{\"k\":%u,\"t\":%u,\"encode_mbps\":%.1f,\"decode_mbps\":%.1f}\n", k, t, encode_mbps,
              decode_mbps);
}

void setup(CLI::App& app) {
  auto* fec = app.add_subcommand("fec",
                                 "RaptorQ (RFC 6330) forward error correction: encode, "
                                 "decode and benchmark");
  fec->require_subcommand(1);
  // The subcommands inherit this footer (CLI11 copies it when they are added).
  fec->footer(
      "Exit status 2 for usage errors and bad parameters or files, 1 when a file cannot be read "
      "or written, decode has too few packets, or a benchmark block fails. docs/raptorq.md has "
      "the .oti/.enc formats.");

  auto encode = std::make_shared<EncodeArgs>();
  auto* enc = fec->add_subcommand(
      "encode",
      "Encode IN into OUT_PREFIX.oti and OUT_PREFIX.enc (per source block: the source "
      "symbols, then --repair repair symbols)");
  enc->add_option("--symbol-size", encode->symbol_size, "symbol size T in bytes")->required();
  enc->add_option("--source-blocks", encode->source_blocks,
                  "source blocks Z (default: the fewest that keep K <= 56403)");
  enc->add_option("--sub-blocks", encode->sub_blocks, "sub-blocks N")->capture_default_str();
  enc->add_option("--alignment", encode->alignment,
                  "symbol alignment Al (default: 4 when T is a multiple of 4, else 1)");
  enc->add_option("--repair", encode->repair, "repair symbols per source block")
      ->capture_default_str();
  enc->add_option("IN", encode->input, "object to encode")->required();
  enc->add_option("OUT_PREFIX", encode->out_prefix, "output path prefix")->required();
  enc->callback([encode] { run_encode(*encode); });

  auto decode = std::make_shared<DecodeArgs>();
  auto* dec = fec->add_subcommand(
      "decode",
      "Decode the object from an OTI file and a packet file into OUT; exits 1 when the "
      "packets are not enough");
  dec->add_option("OTI", decode->oti_path, "12-byte OTI file")->required();
  dec->add_option("PACKETS", decode->packets_path, "packet file (.enc format)")->required();
  dec->add_option("OUT", decode->output, "where to write the object")->required();
  dec->callback([decode] { run_decode(*decode); });

  auto bench = std::make_shared<BenchArgs>();
  auto* ben = fec->add_subcommand(
      "bench",
      "Measure one core: encode (intermediate symbols + K repair symbols) and decode "
      "(from K+2 repair symbols only); prints Mbit/s of source data, last line JSON");
  ben->add_option("--symbols", bench->symbols, "source symbols K")->capture_default_str();
  ben->add_option("--symbol-size", bench->symbol_size, "symbol size T")->capture_default_str();
  ben->add_option("--seconds", bench->seconds, "measuring time (split between the two)")
      ->capture_default_str();
  ben->callback([bench] { run_bench(*bench); });
}

const CommandRegistration kRegistration{"fec", 50, &setup};

}  // namespace
}  // namespace nextmini::cli
