// Replay driver for fuzz targets when libFuzzer is not linked (GCC builds, CI).
// Usage: TARGET [PATH...]  — runs every file given, and every file inside every folder given,
// then feeds a fixed number of pseudo-random and mutated inputs (seeded, so runs repeat).
// A crash, a sanitizer report or an assertion fails the run; otherwise it prints a summary.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const std::vector<std::uint8_t>& input) {
  LLVMFuzzerTestOneInput(input.data(), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<std::uint8_t>> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) corpus.push_back(read_file(entry.path()));
      }
    } else if (std::filesystem::exists(path)) {
      corpus.push_back(read_file(path));
    } else {
      std::fprintf(stderr, "fuzz replay: no such file or folder: %s\n", argv[i]);
      return 2;
    }
  }
  for (const auto& input : corpus) run(input);

  // Random inputs and mutations of the corpus: cheap coverage of the error paths in CI.
  std::mt19937_64 rng(0x6e6578746d696e69ULL);
  constexpr int kRandomRuns = 20000;
  for (int i = 0; i < kRandomRuns; ++i) {
    std::vector<std::uint8_t> input;
    if (!corpus.empty() && (i % 2 == 0)) {
      input = corpus[rng() % corpus.size()];
      const std::size_t flips = 1 + rng() % 8;
      for (std::size_t f = 0; f < flips && !input.empty(); ++f) {
        input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
      }
      if (!input.empty() && rng() % 4 == 0) input.resize(rng() % input.size());
    } else {
      input.resize(rng() % 256);
      for (auto& byte : input) byte = static_cast<std::uint8_t>(rng());
    }
    run(input);
  }
  std::printf("fuzz replay: %zu corpus inputs and %d random inputs ran without a fault\n",
              corpus.size(), kRandomRuns);
  return 0;
}
