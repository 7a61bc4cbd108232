#pragma once
// The controller's thin layer over libpq (PostgreSQL's C client):
//   Params      query parameters in text format; std::nullopt is SQL NULL
//   Rows        a query's result: typed getters that fail (not crash) on NULL or a bad value
//   CopyBuffer  rows for COPY ... FROM STDIN in its text format, built without per-row allocation
//   Connection  one RAII connection: exec (parameterised, PQexecParams), exec_script (several
//               statements, no parameters), transactions, copy_in, and the raw PGconn for the
//               LISTEN/NOTIFY Listener (listener.hpp)
// Credentials come from the URL, or from libpq's own environment (PGPASSWORD, PGPASSFILE,
// ~/.pgpass, PGHOST, ...): nothing is hard-coded here.
// Errors: Result with code "pg.connect" (cannot connect), "pg.connection_lost" (the server went
// away), "pg.<SQLSTATE>" for an error the server reported (for example "pg.23505" for a unique
// violation; the message holds the server's message, detail and hint), "pg.value" for a getter
// that cannot convert a value, "pg.copy" for a failed COPY transfer.
// Thread: a Connection is used by one thread at a time (libpq connections are not shared).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nextmini/common/result.hpp"

struct pg_conn;
struct pg_result;

namespace nextmini::controller::pg {

class Params {
 public:
  Params() = default;
  template <typename... Values>
  explicit Params(const Values&... values) {
    (add(values), ...);
  }

  Params& add(std::nullopt_t);
  Params& add(std::string_view value);
  Params& add(const std::string& value) { return add(std::string_view(value)); }
  Params& add(const char* value) { return add(std::string_view(value)); }
  Params& add(bool value);
  Params& add(double value);
  Params& add(std::int64_t value);
  Params& add(std::uint64_t value);
  Params& add(std::int32_t value) { return add(static_cast<std::int64_t>(value)); }
  Params& add(std::uint32_t value) { return add(static_cast<std::uint64_t>(value)); }
  Params& add(std::uint16_t value) { return add(static_cast<std::uint64_t>(value)); }
  Params& add(std::uint8_t value) { return add(static_cast<std::uint64_t>(value)); }
  template <typename T>
  Params& add(const std::optional<T>& value) {
    return value ? add(*value) : add(std::nullopt);
  }

  std::size_t size() const { return values_.size(); }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);

  int size() const;                         // rows
  int columns() const;                      // columns
  std::uint64_t affected() const;           // rows an INSERT/UPDATE/DELETE touched
  int column(std::string_view name) const;  // -1 when there is none

  bool is_null(int row, int col) const;
  std::string_view text(int row, int col) const;  // "" for NULL

  // Typed values; a NULL or a value that does not convert is a "pg.value" error that names the
  // column and the value.
  Result<std::string> get_string(int row, int col) const;
  Result<std::int64_t> get_int(int row, int col) const;
  Result<std::uint64_t> get_uint(int row, int col) const;
  Result<double> get_double(int row, int col) const;
  Result<bool> get_bool(int row, int col) const;
  // The same, with NULL as std::nullopt.
  Result<std::optional<std::string>> get_optional_string(int row, int col) const;
  Result<std::optional<std::int64_t>> get_optional_int(int row, int col) const;
  Result<std::optional<std::uint64_t>> get_optional_uint(int row, int col) const;
  Result<std::optional<double>> get_optional_double(int row, int col) const;
  Result<std::optional<bool>> get_optional_bool(int row, int col) const;
  // A bytea column (text format "\x..." hex).
  Result<std::vector<std::uint8_t>> get_bytes(int row, int col) const;

 private:
  Error value_error(int row, int col, std::string_view wanted) const;
  struct Free {
    void operator()(pg_result* result) const;
  };
  std::shared_ptr<pg_result> result_;
};

// Rows in COPY's text format: fields separated by tabs, rows by newlines, NULL as \N, with
// backslash, tab, newline and carriage return escaped. clear() keeps the capacity.
class CopyBuffer {
 public:
  CopyBuffer& field(std::nullopt_t);
  CopyBuffer& field(std::string_view value);
  CopyBuffer& field(const char* value) { return field(std::string_view(value)); }
  CopyBuffer& field(const std::string& value) { return field(std::string_view(value)); }
  CopyBuffer& field(std::int64_t value);
  CopyBuffer& field(std::uint64_t value);
  CopyBuffer& field(std::uint32_t value) { return field(static_cast<std::uint64_t>(value)); }
  CopyBuffer& field(std::int32_t value) { return field(static_cast<std::int64_t>(value)); }
  CopyBuffer& field(bool value);
  CopyBuffer& field(double value);
  void end_row();

  std::size_t rows() const { return rows_; }
  const std::string& data() const { return data_; }
  void clear() {
    data_.clear();
    rows_ = 0;
    first_ = true;
  }

 private:
  void separator();
  std::string data_;
  std::size_t rows_ = 0;
  bool first_ = true;
};

class Connection {
 public:
  // Connects (blocking) to a libpq URL or key=value string. Unless the URL or the environment
  // says otherwise, connecting gives up after kConnectTimeoutS and TCP keepalives notice a
  // server that vanished without closing the connection within about half a minute.
  static Result<Connection> open(const std::string& url);

  // The same, without blocking: start_connect() begins, then poll_connect() after the socket
  // is ready for what the previous poll asked for (the first time: writable), until it
  // answers ok or failed. The socket can change between polls; ask socket() each time.
  enum class ConnectStep { wait_readable, wait_writable, ok, failed };
  static Result<Connection> start_connect(const std::string& url);
  ConnectStep poll_connect();
  // The failure of a connection attempt, as "pg.connect".
  Error connect_error(const std::string& url) const;

  static constexpr int kConnectTimeoutS = 10;

  Connection() = default;
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  ~Connection();

  bool is_open() const;  // connected and the connection is good
  Result<Rows> exec(std::string_view sql, const Params& params = Params()) const;
  // Several statements separated by ';', without parameters (migrations, scripts).
  Result<void> exec_script(std::string_view sql) const;

  Result<void> begin() const { return exec_script("BEGIN"); }
  Result<void> commit() const { return exec_script("COMMIT"); }
  Result<void> rollback() const { return exec_script("ROLLBACK"); }
  // Runs `body` (returning Result<T>) inside BEGIN ... COMMIT; rolls back when it fails.
  template <typename Body>
  auto transaction(Body&& body) const -> decltype(body()) {
    if (auto started = begin(); !started) return Failure{started.error()};
    auto result = body();
    if (!result) {
      (void)rollback();
      return result;
    }
    if (auto committed = commit(); !committed) return Failure{committed.error()};
    return result;
  }

  // COPY table (columns) FROM STDIN with the rows of `buffer`; returns the rows copied.
  Result<std::uint64_t> copy_in(std::string_view table, std::string_view columns,
                                const CopyBuffer& buffer) const;

  // Quotes an identifier or a literal for SQL text (for the rare statement that cannot take
  // parameters, such as LISTEN).
  std::string quote_identifier(std::string_view name) const;

  pg_conn* raw() const { return conn_; }
  int socket() const;

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  Error error_from(pg_result* result) const;
  pg_conn* conn_ = nullptr;
};

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db", for logs.
std::string redact_url(std::string_view url);

}  // namespace nextmini::controller::pg
