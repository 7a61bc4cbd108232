"""The end-to-end tests' PostgreSQL helper itself: it starts a real server as an unprivileged
user on loopback, survives a stop and restart with its data, and leaves nothing behind."""

import os
import subprocess

from pg_server import PgServer, pg_server  # noqa: F401  (pg_server is a fixture)


def test_serves_sql_on_loopback_with_a_password(pg_server):
    assert pg_server.psql("SELECT 1 + 1") == "2"
    assert pg_server.psql("SHOW listen_addresses") == "127.0.0.1"
    assert pg_server.psql("SHOW fsync") == "off"
    user = pg_server.psql("SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    assert user == "postgres"
    wrong = pg_server.url.replace(pg_server.password, "wrong")
    denied = subprocess.run(["psql", "-X", "-d", wrong, "-c", "SELECT 1"], capture_output=True,
                            text=True, env={**os.environ, "PGPASSWORD": ""})
    assert denied.returncode != 0
    assert "password authentication failed" in denied.stderr


def test_stop_and_restart_keep_the_data(pg_server):
    pg_server.psql("CREATE TABLE kept (n integer); INSERT INTO kept VALUES (42)")
    pg_server.stop()
    assert pg_server.psql("SELECT 1", check=False).returncode != 0
    pg_server.restart()
    assert pg_server.psql("SELECT n FROM kept") == "42"


def test_close_removes_everything():
    server = PgServer().start()
    directory = server.directory
    assert (directory / "data" / "PG_VERSION").exists()
    server.close()
    assert not directory.exists()
    assert server.psql("SELECT 1", check=False).returncode != 0


def test_socket_url_and_a_restart_without_the_socket(pg_server):
    by_socket = ["psql", "-X", "-A", "-t", "-d", pg_server.socket_url, "-c", "SELECT 7"]
    assert subprocess.run(by_socket, capture_output=True, text=True).stdout.strip() == "7"
    assert oct(os.stat(pg_server.directory).st_mode & 0o777) == "0o711"
    pg_server.stop()
    pg_server.restart(unix_socket=False)  # TCP only: socket clients stay locked out
    assert pg_server.psql("SELECT 8") == "8"
    assert subprocess.run(by_socket, capture_output=True, text=True).returncode != 0
    pg_server.stop()
    pg_server.restart()
    assert subprocess.run(by_socket, capture_output=True, text=True).stdout.strip() == "7"
