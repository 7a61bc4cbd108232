#include "netns.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "command_runner.hpp"

namespace nextmini::launcher {

Result<void> Netns::create(const std::string& name) {
  if (auto added = run_checked({"ip", "netns", "add", name}); !added) return Failure{added.error()};
  if (auto up = run_checked({"ip", "-n", name, "link", "set", "lo", "up"}); !up) {
    return Failure{up.error()};
  }
  return ok();
}

bool Netns::exists(const std::string& name) {
  struct stat info {};
  return ::stat(fmt::format("/run/netns/{}", name).c_str(), &info) == 0;
}

Result<void> Netns::enter(const std::string& name) {
  const std::string path = fmt::format("/run/netns/{}", name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail("netns.enter", fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  const int entered = ::setns(fd, CLONE_NEWNET);
  const int error = errno;
  ::close(fd);
  if (entered != 0) {
    return fail("netns.enter",
                fmt::format("cannot enter network namespace {}: {}{}", name, std::strerror(error),
                            error == EPERM ? " (needs root)" : ""));
  }
  return ok();
}

Result<void> Netns::remove(const std::string& name) {
  if (!exists(name)) return ok();
  if (auto deleted = run_checked({"ip", "netns", "delete", name}); !deleted) {
    return Failure{deleted.error()};
  }
  return ok();
}

Result<std::vector<std::string>> Netns::list() {
  auto output = run_checked({"ip", "netns", "list"});
  if (!output) return Failure{output.error()};
  std::vector<std::string> names;
  std::istringstream lines(*output);
  std::string line;
  while (std::getline(lines, line)) {
    // "nm-ctl (id: 0)" or just "nm-ctl"
    auto end = line.find(' ');
    std::string name = line.substr(0, end);
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

Result<std::vector<pid_t>> Netns::pids(const std::string& name) {
  auto output = run_checked({"ip", "netns", "pids", name});
  if (!output) return Failure{output.error()};
  std::vector<pid_t> result;
  std::istringstream words(*output);
  long pid = 0;
  while (words >> pid) {
    if (pid > 0) result.push_back(static_cast<pid_t>(pid));
  }
  return result;
}

Result<std::vector<std::string>> Netns::links(const std::string& name) {
  std::vector<std::string> argv = {"ip"};
  if (!name.empty()) {
    argv.insert(argv.end(), {"-n", name});
  }
  argv.insert(argv.end(), {"-o", "link", "show"});
  auto output = run_checked(argv);
  if (!output) return Failure{output.error()};
  std::vector<std::string> result;
  std::istringstream lines(*output);
  std::string line;
  while (std::getline(lines, line)) {
    // "5: nmv1@if4: <BROADCAST,...> ..."
    auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    auto start = colon + 2;
    auto end = line.find_first_of(":@", start);
    if (end == std::string::npos) continue;
    result.push_back(line.substr(start, end - start));
  }
  return result;
}

Result<void> Netns::batch(const std::string& name, const std::vector<std::string>& commands) {
  if (commands.empty()) return ok();
  char path[] = "/tmp/nextmini-ip-batch-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return fail("launcher.netns", "cannot create a temporary file for `ip -batch`");
  ::close(fd);
  {
    std::ofstream out(path);
    for (const auto& command : commands) out << command << '\n';
  }
  std::vector<std::string> argv = {"ip"};
  if (!name.empty()) argv.insert(argv.end(), {"-n", name});
  argv.insert(argv.end(), {"-batch", path});
  auto result = run_checked(argv);
  ::unlink(path);
  if (!result) {
    return fail("launcher.netns",
                fmt::format("setting up namespace {}: {}", name.empty() ? "(root)" : name,
                            result.error().message));
  }
  return ok();
}

}  // namespace nextmini::launcher
