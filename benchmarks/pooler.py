"""PgBouncer in front of the Dagster instance's PostgreSQL, as deploy/ recommends, for the fleet figure.

dagster-postgres opens a new connection for every storage call (SQLAlchemy NullPool outside the
webserver), and a new PostgreSQL connection costs ~5 ms of CPU (a forked backend, authentication, a cold
catalog cache) against ~0.06 ms for a query on an open one. A run writes hundreds of events, so on a
2-core machine that churn is a large part of what each run costs. PgBouncer keeps the server connections
open and hands them to the short-lived client connections.

`instance_sessions` reads PostgreSQL's own count of connections made to a database (`pg_stat_database.sessions`,
PostgreSQL 14+), so the figure shows the churn with and without the pooler.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable (Debian's package puts it in /usr/sbin), or None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def command(ini: Path) -> list[str]:
    """How to start PgBouncer on `ini`: it refuses to run as root, so as root it switches to `postgres`."""
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    return [binary, "-u", "postgres", str(ini)] if os.geteuid() == 0 else [binary, str(ini)]


def write_config(port: int, server_host: str = "127.0.0.1", server_port: int = 5432) -> Path:
    """pgbouncer.ini for the local trust-auth PostgreSQL (every database, session pooling) in a directory
    of its own that the `postgres` user can read and write (PgBouncer's log goes there too)."""
    directory = Path(tempfile.mkdtemp(prefix="askpro-pgbouncer-"))
    directory.chmod(0o777)
    users = directory / "userlist.txt"
    users.write_text('"postgres" ""\n', encoding="utf-8")
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={server_host} port={server_port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {users}\n"
        # Session pooling: a client connection has a server connection for its life, which for
        # dagster-postgres is one storage call; DISCARD ALL on release keeps one client's SET (the
        # webserver sets statement_timeout) from reaching the next.
        "pool_mode = session\nserver_reset_query = DISCARD ALL\n"
        # 8 runs at a time, the daemon's threads, the webserver: 20 server connections are plenty.
        "default_pool_size = 20\nmax_client_conn = 1000\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        "log_connections = 0\nlog_disconnections = 0\n"
        f"logfile = {directory / 'pgbouncer.log'}\n",
        encoding="utf-8",
    )
    for path in (users, ini):
        path.chmod(0o644)
    return ini


def pooled_url(database_url: str, port: int) -> str:
    """The same database URL with PgBouncer's port on 127.0.0.1."""
    parts = urlsplit(database_url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def wait_listening(port: int, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """Until PgBouncer accepts connections on `port`; raises if it exits or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"pgbouncer did not listen on {port} within {timeout_s:.0f} s")


def instance_sessions(database: str) -> int:
    """Connections made to `database` since the statistics were reset (PostgreSQL's own count)."""
    import psycopg2

    conn = psycopg2.connect(**PG_ADMIN, connect_timeout=10)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT coalesce(sessions, 0) FROM pg_stat_database WHERE datname = %s", (database,))
            row = cursor.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


def start_in_front_of(database_url: str, processes, free_port) -> tuple[str, subprocess.Popen, Path]:
    """Start PgBouncer (a child of `processes`, the benchmarks' process list) in front of the local
    PostgreSQL; returns the database URL through it, the process and its directory (remove it afterwards)."""
    port = free_port()
    ini = write_config(port)
    process = processes.start("pgbouncer", command(ini), dict(os.environ))
    wait_listening(port, process)
    return pooled_url(database_url, port), process, ini.parent
