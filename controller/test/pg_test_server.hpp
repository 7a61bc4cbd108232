#pragma once
// PgTestServer: a throw-away PostgreSQL 15 server for tests. start() runs initdb in a fresh
// temporary directory as an unprivileged user (root cannot run postgres: when the test runs as
// root, the system user "nextmini-pg" is created on demand and owns the directory), listens on
// 127.0.0.1 at a free port with its unix socket in that directory, and waits until it accepts
// connections. Settings are for speed, not durability (fsync, synchronous_commit and
// full_page_writes off). The superuser "postgres" has a random password, required over TCP
// (scram-sha-256); url() carries it. stop() and restart() let a test take the server away and
// bring the same one back (same port, same data). The destructor stops the server and removes
// the directory, whatever the test's outcome; a watchdog process does the same if the test
// process dies first (a crash, a CTest timeout).
// Knobs: NEXTMINI_PG_BIN (default /usr/lib/postgresql/15/bin) names the binaries' folder.
// Thread: any, one at a time.

#include <cstdint>
#include <memory>
#include <string>

#include "nextmini/common/result.hpp"

namespace nextmini::controller::testing {

class PgTestServer {
 public:
  // Errors: "pg_test.setup" (user, directory, initdb) or "pg_test.start" (the server did not
  // come up; the message holds the tail of its log).
  static Result<std::unique_ptr<PgTestServer>> start();
  ~PgTestServer();

  PgTestServer(const PgTestServer&) = delete;
  PgTestServer& operator=(const PgTestServer&) = delete;

  // A libpq URL: postgresql://postgres:<password>@127.0.0.1:<port>/<database>.
  std::string url(const std::string& database = "postgres") const;
  std::uint16_t port() const { return port_; }
  const std::string& password() const { return password_; }
  const std::string& directory() const { return directory_; }
  bool running() const { return running_; }

  // Fast shutdown (clients are disconnected), data kept. Then restart() on the same port.
  Result<void> stop();
  Result<void> restart();

 private:
  PgTestServer() = default;
  Result<void> launch();
  std::string log_tail() const;

  std::string bin_;
  std::string directory_;
  std::string password_;
  std::uint16_t port_ = 0;
  unsigned run_uid_ = 0;
  unsigned run_gid_ = 0;
  bool running_ = false;
  int watchdog_fd_ = -1;  // closing it (or dying) tells the watchdog to clean up
  int watchdog_pid_ = -1;
};

}  // namespace nextmini::controller::testing
