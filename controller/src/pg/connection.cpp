#include "nextmini/controller/pg/connection.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace nextmini::controller::pg {

namespace {

void log_notice(void*, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::debug("postgresql: {}", text);
}

std::string trimmed(const char* text) {
  std::string out = text != nullptr ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", value);  // shortest text that reads back the same value
}

}  // namespace

// ---- Params ---------------------------------------------------------------------------------

Params& Params::add(std::nullopt_t) {
  values_.emplace_back(std::nullopt);
  return *this;
}
Params& Params::add(std::string_view value) {
  values_.emplace_back(std::string(value));
  return *this;
}
Params& Params::add(bool value) {
  values_.emplace_back(value ? "true" : "false");
  return *this;
}
Params& Params::add(double value) {
  values_.emplace_back(format_double(value));
  return *this;
}
Params& Params::add(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}
Params& Params::add(std::uint64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}

// ---- Rows -----------------------------------------------------------------------------------

void Rows::Free::operator()(pg_result* result) const { PQclear(result); }

Rows::Rows(pg_result* result) : result_(result, Free{}) {}

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }
int Rows::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

std::uint64_t Rows::affected() const {
  if (!result_) return 0;
  const char* text = PQcmdTuples(result_.get());
  std::uint64_t value = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), value);
  return value;
}

int Rows::column(std::string_view name) const {
  if (!result_) return -1;
  return PQfnumber(result_.get(), std::string(name).c_str());
}

bool Rows::is_null(int row, int col) const {
  return !result_ || PQgetisnull(result_.get(), row, col) != 0;
}

std::string_view Rows::text(int row, int col) const {
  if (is_null(row, col)) return {};
  return {PQgetvalue(result_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
}

Error Rows::value_error(int row, int col, std::string_view wanted) const {
  const char* name = result_ ? PQfname(result_.get(), col) : nullptr;
  const std::string column = name != nullptr ? name : fmt::format("#{}", col);
  if (is_null(row, col)) {
    return {"pg.value", fmt::format("column {} of row {} is NULL, not {}", column, row, wanted)};
  }
  return {"pg.value",
          fmt::format("column {} of row {}: '{}' is not {}", column, row, text(row, col), wanted)};
}

Result<std::string> Rows::get_string(int row, int col) const {
  if (is_null(row, col)) return Failure{value_error(row, col, "a string")};
  return std::string(text(row, col));
}

Result<std::int64_t> Rows::get_int(int row, int col) const {
  const auto value = text(row, col);
  std::int64_t out = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (is_null(row, col) || error != std::errc{} || end != value.data() + value.size()) {
    return Failure{value_error(row, col, "an integer")};
  }
  return out;
}

Result<std::uint64_t> Rows::get_uint(int row, int col) const {
  const auto value = text(row, col);
  std::uint64_t out = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (is_null(row, col) || error != std::errc{} || end != value.data() + value.size()) {
    return Failure{value_error(row, col, "a non-negative integer")};
  }
  return out;
}

Result<double> Rows::get_double(int row, int col) const {
  const auto value = text(row, col);
  double out = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (is_null(row, col) || error != std::errc{} || end != value.data() + value.size()) {
    return Failure{value_error(row, col, "a number")};
  }
  return out;
}

Result<bool> Rows::get_bool(int row, int col) const {
  const auto value = text(row, col);
  if (!is_null(row, col) && value == "t") return true;
  if (!is_null(row, col) && value == "f") return false;
  return Failure{value_error(row, col, "a boolean")};
}

namespace {
template <typename T, typename Get>
Result<std::optional<T>> optional_of(const Rows& rows, int row, int col, Get get) {
  if (rows.is_null(row, col)) return std::optional<T>{};
  auto value = (rows.*get)(row, col);
  if (!value) return Failure{value.error()};
  return std::optional<T>{std::move(*value)};
}
}  // namespace

Result<std::optional<std::string>> Rows::get_optional_string(int row, int col) const {
  return optional_of<std::string>(*this, row, col, &Rows::get_string);
}
Result<std::optional<std::int64_t>> Rows::get_optional_int(int row, int col) const {
  return optional_of<std::int64_t>(*this, row, col, &Rows::get_int);
}
Result<std::optional<std::uint64_t>> Rows::get_optional_uint(int row, int col) const {
  return optional_of<std::uint64_t>(*this, row, col, &Rows::get_uint);
}
Result<std::optional<double>> Rows::get_optional_double(int row, int col) const {
  return optional_of<double>(*this, row, col, &Rows::get_double);
}
Result<std::optional<bool>> Rows::get_optional_bool(int row, int col) const {
  return optional_of<bool>(*this, row, col, &Rows::get_bool);
}

Result<std::vector<std::uint8_t>> Rows::get_bytes(int row, int col) const {
  const auto value = text(row, col);
  if (is_null(row, col) || value.size() < 2 || value.substr(0, 2) != "\\x" ||
      value.size() % 2 != 0) {
    return Failure{value_error(row, col, "bytea in hex format")};
  }
  std::vector<std::uint8_t> out;
  out.reserve((value.size() - 2) / 2);
  for (std::size_t i = 2; i < value.size(); i += 2) {
    std::uint8_t byte = 0;
    const auto [end, error] = std::from_chars(value.data() + i, value.data() + i + 2, byte, 16);
    if (error != std::errc{} || end != value.data() + i + 2) {
      return Failure{value_error(row, col, "bytea in hex format")};
    }
    out.push_back(byte);
  }
  return out;
}

// ---- CopyBuffer ------------------------------------------------------------------------------

void CopyBuffer::separator() {
  if (!first_) data_ += '\t';
  first_ = false;
}

CopyBuffer& CopyBuffer::field(std::nullopt_t) {
  separator();
  data_ += "\\N";
  return *this;
}

CopyBuffer& CopyBuffer::field(std::string_view value) {
  separator();
  for (const char c : value) {
    switch (c) {
      case '\\':
        data_ += "\\\\";
        break;
      case '\t':
        data_ += "\\t";
        break;
      case '\n':
        data_ += "\\n";
        break;
      case '\r':
        data_ += "\\r";
        break;
      default:
        data_ += c;
    }
  }
  return *this;
}

CopyBuffer& CopyBuffer::field(std::int64_t value) {
  separator();
  char text[24];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  data_.append(text, end);
  return *this;
}

CopyBuffer& CopyBuffer::field(std::uint64_t value) {
  separator();
  char text[24];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  data_.append(text, end);
  return *this;
}

CopyBuffer& CopyBuffer::field(bool value) {
  separator();
  data_ += value ? 't' : 'f';
  return *this;
}

CopyBuffer& CopyBuffer::field(double value) {
  separator();
  data_ += format_double(value);
  return *this;
}

void CopyBuffer::end_row() {
  data_ += '\n';
  ++rows_;
  first_ = true;
}

// ---- Connection -----------------------------------------------------------------------------

namespace {

// libpq parameters for `url` with our defaults in front of it: the URL's own values (and the
// PG* environment, for keys not given here) take precedence.
PGconn* connect_with_defaults(const std::string& url, bool blocking) {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  const auto by_default = [&](const char* key, const char* env, const char* value) {
    if (env == nullptr || std::getenv(env) == nullptr) {
      keys.push_back(key);
      values.push_back(value);
    }
  };
  static const std::string timeout = std::to_string(Connection::kConnectTimeoutS);
  by_default("connect_timeout", "PGCONNECT_TIMEOUT", timeout.c_str());
  by_default("keepalives_idle", nullptr, "10");
  by_default("keepalives_interval", nullptr, "5");
  by_default("keepalives_count", nullptr, "3");
  keys.push_back("dbname");  // expanded: a URL or key=value string, overriding the above
  values.push_back(url.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  return blocking ? PQconnectdbParams(keys.data(), values.data(), 1)
                  : PQconnectStartParams(keys.data(), values.data(), 1);
}

}  // namespace

Result<Connection> Connection::open(const std::string& url) {
  PGconn* conn = connect_with_defaults(url, true);
  if (conn == nullptr) return fail("pg.connect", "out of memory while connecting");
  Connection connection(conn);
  if (PQstatus(conn) != CONNECTION_OK) return Failure{connection.connect_error(url)};
  PQsetNoticeProcessor(conn, log_notice, nullptr);
  return connection;
}

Result<Connection> Connection::start_connect(const std::string& url) {
  PGconn* conn = connect_with_defaults(url, false);
  if (conn == nullptr) return fail("pg.connect", "out of memory while connecting");
  Connection connection(conn);
  if (PQstatus(conn) == CONNECTION_BAD) return Failure{connection.connect_error(url)};
  return connection;
}

Connection::ConnectStep Connection::poll_connect() {
  if (conn_ == nullptr) return ConnectStep::failed;
  switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_READING:
      return ConnectStep::wait_readable;
    case PGRES_POLLING_WRITING:
      return ConnectStep::wait_writable;
    case PGRES_POLLING_OK:
      PQsetNoticeProcessor(conn_, log_notice, nullptr);
      return ConnectStep::ok;
    default:
      return ConnectStep::failed;
  }
}

Error Connection::connect_error(const std::string& url) const {
  const std::string reason = conn_ != nullptr ? trimmed(PQerrorMessage(conn_)) : "not started";
  return {"pg.connect", fmt::format("cannot connect to {}: {}", redact_url(url), reason)};
}

Connection::Connection(Connection&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = other.conn_;
    other.conn_ = nullptr;
  }
  return *this;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::is_open() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

int Connection::socket() const { return conn_ != nullptr ? PQsocket(conn_) : -1; }

Error Connection::error_from(pg_result* result) const {
  if (conn_ == nullptr) return {"pg.connection_lost", "not connected"};
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (sqlstate == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return {"pg.connection_lost",
            fmt::format("connection to PostgreSQL lost: {}", trimmed(PQerrorMessage(conn_)))};
  }
  std::string message = trimmed(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
  if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
    message += fmt::format(" ({})", trimmed(detail));
  }
  if (const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT)) {
    message += fmt::format(" hint: {}", trimmed(hint));
  }
  return {fmt::format("pg.{}", sqlstate), fmt::format("{} [SQLSTATE {}]", message, sqlstate)};
}

Result<Rows> Connection::exec(std::string_view sql, const Params& params) const {
  if (conn_ == nullptr) return fail("pg.connection_lost", "not connected");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& value : params.values()) values.push_back(value ? value->c_str() : nullptr);
  const std::string text(sql);
  PGresult* result = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  Rows rows(result);
  const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure{error_from(result)};
  return rows;
}

Result<void> Connection::exec_script(std::string_view sql) const {
  if (conn_ == nullptr) return fail("pg.connection_lost", "not connected");
  const std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  Rows owner(result);
  const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure{error_from(result)};
  return ok();
}

Result<std::uint64_t> Connection::copy_in(std::string_view table, std::string_view columns,
                                          const CopyBuffer& buffer) const {
  if (conn_ == nullptr) return fail("pg.connection_lost", "not connected");
  const std::string sql = fmt::format("COPY {} ({}) FROM STDIN", table, columns);
  {
    PGresult* result = PQexec(conn_, sql.c_str());
    Rows owner(result);
    if (result == nullptr || PQresultStatus(result) != PGRES_COPY_IN) {
      return Failure{error_from(result)};
    }
  }
  const auto& data = buffer.data();
  bool sent = data.empty() || PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) == 1;
  const char* abort_reason = sent ? nullptr : "sending the rows failed";
  if (PQputCopyEnd(conn_, abort_reason) != 1) sent = false;
  // The COPY's own result, then the end of results; keep the first failure.
  Result<std::uint64_t> outcome = fail("pg.copy", fmt::format("COPY {}: no result", table));
  while (PGresult* result = PQgetResult(conn_)) {
    Rows owner(result);
    if (PQresultStatus(result) == PGRES_COMMAND_OK) {
      if (sent) outcome = owner.affected();
    } else if (outcome || outcome.error().code == "pg.copy") {
      outcome = Failure{error_from(result)};
    }
  }
  if (!sent && outcome) {
    return fail("pg.copy", fmt::format("COPY {}: {}", table, trimmed(PQerrorMessage(conn_))));
  }
  return outcome;
}

std::string Connection::quote_identifier(std::string_view name) const {
  if (conn_ == nullptr) return std::string(name);
  char* quoted = PQescapeIdentifier(conn_, name.data(), name.size());
  if (quoted == nullptr) return std::string(name);
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

namespace {

// "...password=secret..." (a key=value string or a URL's query) -> "...password=***...".
std::string redact_password_parameter(std::string text) {
  for (std::size_t at = text.find("password="); at != std::string::npos;
       at = text.find("password=", at + 1)) {
    const std::size_t start = at + 9;
    std::size_t end = start;
    if (end < text.size() && text[end] == '\'') {
      end = text.find('\'', end + 1);
      end = end == std::string::npos ? text.size() : end + 1;
    } else {
      while (end < text.size() && text[end] != ' ' && text[end] != '&') ++end;
    }
    text.replace(start, end - start, "***");
  }
  return text;
}

}  // namespace

std::string redact_url(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return redact_password_parameter(std::string(url));
  const auto at = url.find('@', scheme + 3);
  const auto colon = url.find(':', scheme + 3);
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) {
    return redact_password_parameter(std::string(url));
  }
  return redact_password_parameter(fmt::format("{}:***{}", url.substr(0, colon), url.substr(at)));
}

}  // namespace nextmini::controller::pg
