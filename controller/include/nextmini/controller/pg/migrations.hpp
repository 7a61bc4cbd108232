#pragma once
// The PostgreSQL schema of the controller as versioned migrations compiled into the binary
// (docs/database.md describes every table). migrate() brings a database up to the newest
// version this build knows, in one transaction under an advisory lock (two controllers starting
// at once do not both migrate): it creates schema_version when missing, applies every migration
// above the recorded version in order, and records each. A database already at that version is
// left alone; one at a newer version (written by a newer Nextmini) is refused with
// "pg.schema_newer" and left untouched. reset_database() drops every object the migrations
// create (tables with their data, functions, triggers) and migrates again: only on request
// (--reset-db), never at normal start-up.
// The rule for changing the schema: never edit a released migration; append a new one.
// Thread: the caller's, on a Connection it owns.

#include <span>
#include <string_view>

#include "nextmini/common/result.hpp"
#include "nextmini/controller/pg/connection.hpp"

namespace nextmini::controller::pg {

struct Migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;
};

std::span<const Migration> migrations();
int latest_schema_version();

// The version recorded in the database, 0 when it has no schema_version table.
Result<int> schema_version(const Connection& connection);

// Returns the version after migrating.
Result<int> migrate(const Connection& connection);

// Drops everything migrate() creates, then migrates. Returns the version after.
Result<int> reset_database(const Connection& connection);

}  // namespace nextmini::controller::pg
