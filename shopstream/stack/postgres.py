"""The local PostgreSQL engine (the warehouse stand-in and the mart) and its password."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from shopstream.config import Settings
from shopstream.credentials import CredentialsError, local_postgres_password_file, postgres_password
from shopstream.private import allow_traverse, private_dir, write_private
from shopstream.stack.engine import Engine
from shopstream.stack.process import EngineError, run_as


class Postgres(Engine):
    """The project's own PostgreSQL 15 cluster (Debian binaries) on a non-default port.

    Runs as the ``postgres`` OS user when we are root (PostgreSQL refuses root). Databases:
    ``warehouse`` (the Redshift stand-in) and ``mart``. Password: $SHOPSTREAM_PG_PASSWORD, or
    one generated on first start into ``<state>/postgres/password`` (created 0600, never wider:
    :func:`shopstream.private.write_private`).
    """

    name = "postgres"
    timeout = 60.0

    @property
    def ports(self) -> list[int]:
        return [self.settings.postgres.port]

    @property
    def endpoint(self) -> str:
        p = self.settings.postgres
        return f"postgresql://{p.user}@127.0.0.1:{p.port}/{p.warehouse_db}"

    @property
    def _run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _bin(self, tool: str) -> str:
        path = Path(self.settings.postgres.bin_dir) / tool
        if not path.exists():
            raise EngineError(
                f"postgres: {path} not found; install PostgreSQL 15 (Debian package postgresql-15) "
                "or set postgres.bin_dir"
            )
        return str(path)

    def _chown(self, path: Path) -> None:
        if self._run_as:
            shutil.chown(path, user=self._run_as, group=self._run_as)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        data, run = self.dir / "data", self.dir / "run"
        for d in (data, run):
            d.mkdir(exist_ok=True)
            d.chmod(0o700)
            self._chown(d)
        self._chown(self.dir)
        if self._run_as:  # PostgreSQL's OS user passes through the 0700 state directory, no more
            allow_traverse(self.settings.state_path, self._run_as)
        if not (data / "PG_VERSION").exists():
            pwfile = self.dir / ".initdb-pw"
            write_private(pwfile, password(self.settings, create=True) + "\n")
            self._chown(pwfile)
            probe = ["test", "-r", str(pwfile)]
            if self._run_as and subprocess.run(probe, **run_as(self._run_as)).returncode:
                pwfile.unlink(missing_ok=True)
                raise EngineError(
                    f"postgres: {self.dir} is not reachable by the '{self._run_as}' OS user (PostgreSQL "
                    "refuses to run as root); every parent directory needs o+x - choose another "
                    "SHOPSTREAM_STATE_DIR"
                )
            try:
                res = subprocess.run(
                    [
                        self._bin("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        self.settings.postgres.user,
                        f"--pwfile={pwfile}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=peer" if self._run_as else "--auth-local=trust",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ],
                    capture_output=True,
                    text=True,
                    **run_as(self._run_as),
                    cwd="/",
                    check=False,
                )
            finally:
                pwfile.unlink(missing_ok=True)
            if res.returncode != 0:
                raise EngineError(f"postgres: initdb failed: {res.stderr.strip()[-500:]}")
        p = self.settings.postgres
        self.proc.start(
            [
                self._bin("postgres"),
                "-D",
                str(data),
                "-p",
                str(p.port),
                "-k",
                str(run),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "max_connections=50",
                "-c",
                "fsync=on",
                "-c",
                "logging_collector=off",
            ],
            env=self._env(),
            user=self._run_as,
            cwd=Path("/"),
        )

    def _connect(self, dbname: str):  # type: ignore[no-untyped-def]
        import psycopg2  # the PostgreSQL client library loads only when the engine is prepared

        p = self.settings.postgres
        return psycopg2.connect(
            host="127.0.0.1",
            port=p.port,
            user=p.user,
            password=password(self.settings),
            dbname=dbname,
            connect_timeout=3,
        )

    def ready(self) -> bool:
        with self._connect("postgres") as conn, conn.cursor() as cur:
            cur.execute("select 1")
            return cur.fetchone() == (1,)

    def prepare(self) -> str:
        p = self.settings.postgres
        conn = self._connect("postgres")
        conn.autocommit = True
        created = []
        try:
            with conn.cursor() as cur:
                for db in (p.warehouse_db, p.mart_db):
                    cur.execute("select 1 from pg_database where datname = %s", (db,))
                    if cur.fetchone() is None:
                        cur.execute(f'create database "{db}"')
                        created.append(db)
        finally:
            conn.close()
        return f"databases created: {', '.join(created)}" if created else "databases present"


def password(settings: Settings, create: bool = False) -> str:
    """The local PostgreSQL password (:func:`shopstream.credentials.postgres_password`); with
    ``create``, generated into the state file on the stack's first start."""

    try:
        return postgres_password(settings)
    except CredentialsError as exc:
        if not create:
            raise EngineError(str(exc)) from None
    path = local_postgres_password_file(settings)
    private_dir(settings.state_path)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    pw = secrets.token_urlsafe(24)
    write_private(path, pw + "\n")
    return pw
