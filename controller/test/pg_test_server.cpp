#include "pg_test_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace nextmini::controller::testing {

namespace {

constexpr const char* kDefaultBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kSystemUser = "nextmini-pg";
constexpr int kStartAttempts = 3;  // a fresh free port each time another process took ours

std::string errno_text() { return std::strerror(errno); }

// A port nobody listens on right now (the kernel's pick for 127.0.0.1:0).
Result<std::uint16_t> free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("pg_test.setup", "socket: " + errno_text());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string reason = errno_text();
    ::close(fd);
    return fail("pg_test.setup", "cannot find a free loopback port: " + reason);
  }
  ::close(fd);
  return static_cast<std::uint16_t>(ntohs(address.sin_port));
}

std::string random_password() {
  std::random_device device;
  std::string out;
  constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 24; ++i) out += kHex[device() % 16];
  return out;
}

// Runs argv as uid/gid (when we are root) with stdout and stderr appended to `log_path`;
// returns the exit status. Every other descriptor is closed in the child so a server that
// outlives the command does not hold the test's pipes open.
Result<int> run_as(unsigned uid, unsigned gid, const std::vector<std::string>& argv,
                   const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return fail("pg_test.setup", "fork: " + errno_text());
  if (pid == 0) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (::geteuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(126);
    }
    ::execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail("pg_test.setup", "waitpid: " + errno_text());
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// A process that outlives a test killed before its destructor ran (a crash, a CTest timeout):
// it waits for end-of-file on `pipe_read` — which comes when the owner closes the other end or
// dies — then stops the server (if one is running) and removes the directory. It runs in its own
// session, so it survives the kill of the test's process group, with stdio on /dev/null.
Result<int> spawn_watchdog(int pipe_read, const std::string& stop_command,
                           const std::string& directory) {
  const std::string script = "cat >/dev/null; if [ -f '" + directory +
                             "/data/postmaster.pid' ]; then " + stop_command +
                             " >/dev/null 2>&1; fi; rm -rf '" + directory + "'";
  const pid_t pid = ::fork();
  if (pid < 0) return fail("pg_test.setup", "fork: " + errno_text());
  if (pid == 0) {
    ::setsid();
    ::dup2(pipe_read, STDIN_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return static_cast<int>(pid);
}

// The unprivileged account the server runs as: ourselves, or (as root) kSystemUser, created
// with useradd --system the first time.
Result<std::pair<unsigned, unsigned>> server_account() {
  if (::geteuid() != 0) return std::pair<unsigned, unsigned>{::getuid(), ::getgid()};
  if (const passwd* user = ::getpwnam(kSystemUser)) {
    return std::pair<unsigned, unsigned>{user->pw_uid, user->pw_gid};
  }
  const std::string command = std::string("useradd --system --user-group --no-create-home ") +
                              "--home-dir /nonexistent --shell /usr/sbin/nologin " + kSystemUser +
                              " >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  const passwd* user = ::getpwnam(kSystemUser);  // a parallel test may have created it
  if (user == nullptr) {
    return fail("pg_test.setup", "cannot create the system user " + std::string(kSystemUser) +
                                     " (useradd exit status " + std::to_string(status) + ")");
  }
  return std::pair<unsigned, unsigned>{user->pw_uid, user->pw_gid};
}

}  // namespace

Result<std::unique_ptr<PgTestServer>> PgTestServer::start() {
  std::unique_ptr<PgTestServer> server(new PgTestServer());
  const char* bin = std::getenv("NEXTMINI_PG_BIN");
  server->bin_ = bin != nullptr && *bin != '\0' ? bin : kDefaultBin;
  if (::access((server->bin_ + "/initdb").c_str(), X_OK) != 0) {
    return fail("pg_test.setup", server->bin_ + "/initdb is not there: install postgresql-15 " +
                                     "(scripts/install-deps.sh) or set NEXTMINI_PG_BIN");
  }
  auto account = server_account();
  if (!account) return Failure{account.error()};
  server->run_uid_ = account->first;
  server->run_gid_ = account->second;

  std::string pattern = (std::filesystem::temp_directory_path() / "nextmini-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return fail("pg_test.setup", "mkdtemp " + pattern + ": " + errno_text());
  }
  server->directory_ = pattern;  // from here on the destructor removes it
  if (::chown(pattern.c_str(), server->run_uid_, server->run_gid_) != 0) {
    return fail("pg_test.setup", "chown " + pattern + ": " + errno_text());
  }
  int watchdog_pipe[2];
  if (::pipe2(watchdog_pipe, O_CLOEXEC) != 0) {
    return fail("pg_test.setup", "pipe: " + errno_text());
  }
  const std::string as_user =
      ::geteuid() == 0 ? std::string("runuser -u ") + kSystemUser + " -- " : std::string();
  auto watchdog = spawn_watchdog(
      watchdog_pipe[0],
      as_user + server->bin_ + "/pg_ctl -D '" + pattern + "/data' -m immediate -w -t 60 stop",
      pattern);
  ::close(watchdog_pipe[0]);
  server->watchdog_fd_ = watchdog_pipe[1];
  if (!watchdog) return Failure{watchdog.error()};
  server->watchdog_pid_ = *watchdog;
  server->password_ = random_password();
  const std::string password_file = server->directory_ + "/password";
  {
    std::ofstream out(password_file);
    out << server->password_ << "\n";
  }
  if (::chown(password_file.c_str(), server->run_uid_, server->run_gid_) != 0) {
    return fail("pg_test.setup", "chown " + password_file + ": " + errno_text());
  }
  const std::string data = server->directory_ + "/data";
  auto initdb =
      run_as(server->run_uid_, server->run_gid_,
             {server->bin_ + "/initdb", "-D", data, "-U", "postgres", "--pwfile=" + password_file,
              "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--encoding=UTF8",
              "--locale=C", "--no-instructions"},
             server->directory_ + "/initdb.log");
  if (!initdb) return Failure{initdb.error()};
  if (*initdb != 0) {
    std::ifstream in(server->directory_ + "/initdb.log");
    std::stringstream text;
    text << in.rdbuf();
    return fail("pg_test.setup",
                "initdb exited with status " + std::to_string(*initdb) + ": " + text.str());
  }
  std::ofstream conf(data + "/postgresql.conf", std::ios::app);
  conf << "\n# nextmini test server\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << server->directory_ << "'\n"
       << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
       << "max_connections = 40\nshared_buffers = 32MB\n";
  conf.close();

  for (int attempt = 1;; ++attempt) {
    auto port = free_loopback_port();
    if (!port) return Failure{port.error()};
    server->port_ = *port;
    std::ofstream port_conf(data + "/postgresql.conf", std::ios::app);
    port_conf << "port = " << server->port_ << "\n";  // the last setting wins
    port_conf.close();
    auto launched = server->launch();
    if (launched) return server;
    if (attempt == kStartAttempts ||
        server->log_tail().find("could not bind") == std::string::npos) {
      return Failure{launched.error()};
    }
  }
}

Result<void> PgTestServer::launch() {
  auto status = run_as(run_uid_, run_gid_,
                       {bin_ + "/pg_ctl", "-D", directory_ + "/data", "-l",
                        directory_ + "/server.log", "-w", "-t", "60", "start"},
                       directory_ + "/pg_ctl.log");
  if (!status) return Failure{status.error()};
  if (*status != 0) {
    return fail("pg_test.start", "PostgreSQL did not start (pg_ctl exit status " +
                                     std::to_string(*status) + "): " + log_tail());
  }
  running_ = true;
  return ok();
}

Result<void> PgTestServer::stop() {
  if (!running_) return ok();
  auto status =
      run_as(run_uid_, run_gid_,
             {bin_ + "/pg_ctl", "-D", directory_ + "/data", "-m", "fast", "-w", "-t", "60", "stop"},
             directory_ + "/pg_ctl.log");
  if (!status) return Failure{status.error()};
  if (*status != 0) {
    return fail("pg_test.start", "pg_ctl stop exited with status " + std::to_string(*status));
  }
  running_ = false;
  return ok();
}

Result<void> PgTestServer::restart() {
  if (running_) return ok();
  return launch();
}

std::string PgTestServer::url(const std::string& database) const {
  return "postgresql://postgres:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" +
         database;
}

std::string PgTestServer::log_tail() const {
  std::ifstream in(directory_ + "/server.log");
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  constexpr std::size_t kTail = 2000;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

PgTestServer::~PgTestServer() {
  if (running_) {
    (void)run_as(
        run_uid_, run_gid_,
        {bin_ + "/pg_ctl", "-D", directory_ + "/data", "-m", "immediate", "-w", "-t", "60", "stop"},
        directory_ + "/pg_ctl.log");
  }
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  if (watchdog_fd_ >= 0) ::close(watchdog_fd_);  // the watchdog finds nothing left and exits
  if (watchdog_pid_ > 0) {
    while (::waitpid(watchdog_pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace nextmini::controller::testing
