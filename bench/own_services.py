"""A PostgreSQL cluster and a Redis server of the chaos run's own, so restarting them disturbs nobody else.

`bench/chaos.py --own-services` (the default for the `services` phase) starts both on free ports in a scratch
folder before Django reads its settings, points DATABASE_URL and CELERY_BROKER_URL at them, restarts them in the
middle of the phase exactly as the machine's services would be restarted (PostgreSQL's fast shutdown drops every
connection; Redis forgets every queued message), and removes them at the end. The shared services keep serving the
test suite and everyone else meanwhile. Needs PostgreSQL's server binaries (Debian's postgresql package) and
redis-server; as root, the cluster runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.workers import free_port, wait_until

DATABASE = "faos_chaos"


def postgres_bin(name: str) -> str:
    """A PostgreSQL server binary (initdb, pg_ctl): not on PATH on Debian; the newest version installed."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit(f"{name} not found under /usr/lib/postgresql/*/bin: install PostgreSQL's server package")
    return found[-1]


class OwnServices:
    """`with OwnServices() as services:` sets the two URLs in os.environ; `.restart_postgres()`, `.restart_redis()`."""

    def __enter__(self) -> OwnServices:
        self.folder = Path(tempfile.mkdtemp(prefix="faos-chaos-services-"))
        self.pg_port, self.redis_port = free_port(), free_port()
        self.data = self.folder / "pg"
        self._start_cluster()
        self._start_redis()
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{self.pg_port}/{DATABASE}"
        os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        os.environ.pop("CACHE_URL", None)  # the cache follows the broker (faos/cache.py)
        return self

    def __exit__(self, *exc) -> None:
        self._pg_ctl("stop", "-m", "immediate", check=False)
        subprocess.run(self._redis_cli("shutdown", "nosave"), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _as_postgres(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        log = str(self.folder / "pg.log")
        command = self._as_postgres([postgres_bin("pg_ctl"), "-D", str(self.data), "-l", log, "-w", *args])
        subprocess.run(command, check=check, capture_output=True)

    def _start_cluster(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        initdb = [postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"]
        subprocess.run(self._as_postgres(initdb), check=True, capture_output=True)
        options = f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=200"
        self._pg_ctl("start", "-o", options)
        createdb = ["createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", DATABASE]
        subprocess.run(createdb, check=True, capture_output=True)

    def _redis_cli(self, *args: str) -> list[str]:
        return ["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), *args]

    def _start_redis(self) -> None:
        command = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--daemonize"]
        command += ["yes", "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")]
        subprocess.run(command, check=True, capture_output=True)
        wait_until(lambda: b"PONG" in subprocess.run(self._redis_cli("ping"), capture_output=True).stdout, "Redis")

    def restart_postgres(self) -> None:
        """Fast shutdown (every connection dropped, as `pg_ctlcluster … restart` does), then up again."""
        self._pg_ctl("restart", "-m", "fast")

    def restart_redis(self) -> None:
        """Nothing saved: every queued message is lost, as on the machine's Redis (.ci/run starts it so)."""
        subprocess.run(self._redis_cli("shutdown", "nosave"), capture_output=True)
        self._start_redis()
