#pragma once
// The command line of the benchmark binaries (db_bench, pg_store_bench): they take positional
// numbers only, so an argument starting with '-' is either -h/--help (print `usage`, exit 0)
// or a mistake (one line naming it, exit 2). Call first thing in main().

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nextmini::bench {

inline void handle_help(int argc, char** argv, const char* name, const char* usage) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-' || argv[i][1] == '\0') continue;
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    std::fprintf(stderr, "%s: unknown option %s (see %s --help)\n", name, argv[i], name);
    std::exit(2);
  }
}

}  // namespace nextmini::bench
