"""A PostgreSQL primary and a streaming hot standby on this machine, for the replica tests.

Uses pgserver's PostgreSQL binaries (the same server the other tests run
on). Both servers listen on Unix sockets only, each in its own directory.
PostgreSQL refuses to run as root: as root the servers run as pgserver's
own system user, ``pgserver``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
    import pgserver

BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
SYSTEM_USER = "pgserver" if os.geteuid() == 0 else None


def _run(*args: str) -> str:
    """Run a PostgreSQL program (as the server's system user when root)."""
    done = subprocess.run(
        [str(BIN / args[0]), *args[1:]], user=SYSTEM_USER, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def _own(path: Path) -> None:
    if SYSTEM_USER is not None:
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Server:
    """One PostgreSQL server: its data directory and socket directory."""

    data: Path
    sockets: Path

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@/{database}?host={self.sockets}"

    def start(self) -> None:
        _run(
            "pg_ctl", "-D", str(self.data), "-w", "-l", str(self.data / "server.log"),
            "-o", f"-h '' -k {self.sockets}", "start",
        )

    def stop(self) -> None:
        _run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class Cluster:
    """A primary (initdb) and a hot standby cloned from it with ``pg_basebackup -R``."""

    def __init__(self) -> None:
        # A short path: Unix socket paths are limited to ~100 characters.
        self.root = Path(tempfile.mkdtemp(prefix="cpni-repl-"))
        _own(self.root)
        self.root.chmod(0o755)
        self.primary = self._server("primary")
        self.standby = self._server("standby")

    def _server(self, name: str) -> Server:
        sockets = self.root / f"{name}-sock"
        sockets.mkdir()
        _own(sockets)
        return Server(self.root / name, sockets)

    def start(self) -> None:
        _run("initdb", "-D", str(self.primary.data), "-U", "postgres", "--auth=trust", "--encoding=utf8")
        with (self.primary.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nfsync = off\n")
        self.primary.start()

    def start_standby(self) -> None:
        """Clone the primary as it is now and start the clone streaming from it."""
        _run("pg_basebackup", "-D", str(self.standby.data), "-h", str(self.primary.sockets),
             "-U", "postgres", "-R", "-X", "stream", "-c", "fast")
        self.standby.start()

    def close(self) -> None:
        for server in (self.standby, self.primary):
            if server.running():
                try:
                    server.stop()
                except subprocess.CalledProcessError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

