"""A throw-away PostgreSQL 15 server for the end-to-end tests, the Python twin of
controller/test/pg_test_server.hpp.

`PgServer.start()` runs initdb in a fresh temporary directory as an unprivileged user (as root:
the system user "nextmini-pg", created on demand; postgres refuses to run as root), listens on
127.0.0.1 at a free port with its unix socket in that directory, with settings for speed
(fsync, synchronous_commit, full_page_writes off), and waits until it accepts connections.
The superuser "postgres" has a random password, required over TCP; `url` carries it.
`socket_url` reaches the same server through its unix socket (no password: local connections
are trusted) — the URL for a controller in another network namespace (`nextmini up --db`),
where 127.0.0.1 is that namespace's own loopback; the directory is traversable (mode 0711) so
any process of this machine can reach the socket by its name.
`stop()` / `restart()` take the same server away and bring it back (same port and data);
`restart(unix_socket=False)` brings it back on TCP only, so clients of `socket_url` still
cannot reach it while SQL over `url` can (a change made while the controller is away);
`close()` stops it and removes the directory. `psql(sql)` runs SQL and returns its output.

Use the `pg_server` fixture (import it into the test module: `from pg_server import pg_server`),
which always closes the server, even when the test fails.
"""

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("NEXTMINI_PG_BIN", "/usr/lib/postgresql/15/bin"))
SYSTEM_USER = "nextmini-pg"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _account():
    """(uid, gid) the server runs as: ourselves, or SYSTEM_USER when we are root."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        SYSTEM_USER], capture_output=True, check=False)
        entry = pwd.getpwnam(SYSTEM_USER)  # KeyError here: useradd failed
    return entry.pw_uid, entry.pw_gid


class PgServer:
    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"{PG_BIN}/initdb is not there: install postgresql-15 "
                               "(scripts/install-deps.sh) or set NEXTMINI_PG_BIN")
        self.uid, self.gid = _account()
        self.directory = Path(tempfile.mkdtemp(prefix="nextmini-pg-"))
        os.chown(self.directory, self.uid, self.gid)
        os.chmod(self.directory, 0o711)
        self.data = self.directory / "data"
        self.password = secrets.token_hex(12)
        self.port = 0
        self.running = False

    def _run(self, argv, timeout=120):
        kwargs = {}
        if os.geteuid() == 0:
            kwargs = {"user": self.uid, "group": self.gid, "extra_groups": []}
        return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                              timeout=timeout, cwd=self.directory, **kwargs)

    def start(self):
        password_file = self.directory / "password"
        password_file.write_text(self.password + "\n")
        os.chown(password_file, self.uid, self.gid)
        init = self._run([PG_BIN / "initdb", "-D", self.data, "-U", "postgres",
                          f"--pwfile={password_file}", "--auth-local=trust",
                          "--auth-host=scram-sha-256", "--no-sync", "--encoding=UTF8",
                          "--locale=C", "--no-instructions"])
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stdout}{init.stderr}")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# nextmini test server\n"
                       "listen_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.directory}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 40\nshared_buffers = 32MB\n")
        for attempt in range(3):  # another process may take the free port first
            self.port = _free_port()
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(f"port = {self.port}\n")
            try:
                self.restart()
                return self
            except RuntimeError:
                if attempt == 2 or "could not bind" not in self.log():
                    raise
        return self

    @property
    def url(self):
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    @property
    def socket_url(self):
        return (f"postgresql:///postgres?host={self.directory}&port={self.port}"
                "&user=postgres")

    def log(self):
        path = self.directory / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def restart(self, unix_socket=True):
        if self.running:
            return
        options = [] if unix_socket else ["-o", "-c unix_socket_directories=''"]
        started = self._run([PG_BIN / "pg_ctl", "-D", self.data, "-l",
                             self.directory / "server.log", "-w", "-t", "60", *options,
                             "start"])
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{self.log()}")
        self.running = True

    def stop(self, mode="fast"):
        if not self.running:
            return
        stopped = self._run([PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60",
                             "stop"])
        if stopped.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {stopped.stderr}")
        self.running = False

    def close(self):
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def psql(self, sql, check=True):
        """Runs SQL with psql; returns stdout (unaligned, tuples only), stripped."""
        result = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url,
                                 "-c", sql], capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"psql failed ({result.returncode}): {result.stderr}")
        return result.stdout.strip() if check else result


@pytest.fixture
def pg_server():
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
