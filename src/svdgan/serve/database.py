"""The database of `svdgan serve`, on SQLAlchemy 2 Core: SQLite in the storage folder (the embedded
default) or PostgreSQL (psycopg 3) that several workers share. Its schema is versioned: each start
applies the migrations a database lacks, in one transaction, one process at a time.

    sqlite:///serve_data/events.db                 what serve uses with no --db
    postgresql://svdgan:PASSWORD@db.site/svdgan    --db, the config's `database:` or $SVDGAN_DATABASE
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from svdgan.errors import UserError

BUSY_TIMEOUT_S = 0.2  # a locked database fails a write at once; the engine retries it, scoring goes on
WAL_LIMIT_BYTES = 256 * 1024  # SQLite's log beyond its checkpoint: the most it adds over max_mb
STATEMENT_TIMEOUT_MS = 5000  # PostgreSQL: a statement (or a lock wait) that takes longer fails and is retried
PG_MIGRATION_LOCK = 0x5764_6761  # the advisory lock that lets one process at a time migrate

metadata = sa.MetaData()
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera", sa.Text, nullable=False),
    sa.Column("start", sa.Double, nullable=False),  # wall-clock seconds (Unix time)
    sa.Column("end", sa.Double),  # NULL while the event is open
    sa.Column("peak_score", sa.Double, nullable=False),
    sa.Column("peak_frame", sa.Integer, nullable=False),
    sa.Column("snapshot", sa.Text),  # file names under the recording worker's media folder
    sa.Column("clip", sa.Text),
    sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),  # size of its media files
    sa.Column("reviewed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("curve", sa.Text),  # JSON [[unix time, score], ...] from the pre-roll to the end
    sa.Column("media_error", sa.Text),  # why a snapshot or clip could not be saved
    sa.Column("last_seen", sa.Double),  # an open event's latest frame: where a crash ends it
    sa.Column("why", sa.Text),  # JSON {"reason": ..., "box": [x, y, w, h]} of its peak frame
    sa.Column("start_frame", sa.Integer),  # the source's frames of its first and last frames above the threshold
    sa.Column("end_frame", sa.Integer),
    sa.Column("motion", sa.Text),  # file of its frames' motion cells (what "normal" teaches)
    sa.Column("label", sa.Text),  # the operator's verdict: 'normal', 'anomaly' (kept for ever) or NULL
    sa.Column("worker", sa.Text),  # the worker that recorded it (where its media files are)
    sa.Index("events_start", "start"),
    sa.Index("events_camera", "camera", "start"),
    sqlite_autoincrement=True,  # ids never reused, even those of deleted events
)
feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Integer, nullable=False),
    sa.Column("camera", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=False),  # 'normal', 'anomaly' or 'undo'
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("who", sa.Text, nullable=False),  # the login it came from: how it authenticated, and its address
    sa.Column("model", sa.Text),  # the camera's model version written for it (normal, undo)
    sqlite_autoincrement=True,
)
cameras = sa.Table(  # cameras added while serve ran (the page, the API) and, on a site, every camera
    "cameras", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("fps", sa.Double, nullable=False),
    sa.Column("threshold", sa.Double, nullable=False),
    sa.Column("min_frames", sa.Integer, nullable=False),
    sa.Column("end_frames", sa.Integer, nullable=False),
    sa.Column("learn", sa.Text, nullable=False),
    sa.Column("added", sa.Double, nullable=False),
    sa.Column("checkpoint", sa.Text),  # its model file, if it was given one (else it learns its own)
    sa.Column("ignore", sa.Text),  # JSON [[x0, y0, x1, y1], ...]: regions not scored
    sa.Column("holder", sa.Text),  # the worker scoring it, while its lease runs
    sa.Column("lease_until", sa.Double),  # the database's clock (Unix time) when the lease runs out
)
models = sa.Table(  # each camera's model versions: what it learnt and what the operator taught it
    "models", metadata,
    sa.Column("camera", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # a checkpoint: score statistics and memory
)
workers = sa.Table(
    "workers", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("url", sa.Text),  # where its page and media are reached
    sa.Column("started", sa.Double, nullable=False),
    sa.Column("seen", sa.Double, nullable=False),  # the database's clock at its latest heartbeat
    sa.Column("health", sa.Text),  # JSON of its cameras' health at that heartbeat
)
schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))


def _v1(conn: Connection) -> None:
    """The single-server schema (events, feedback, added cameras), and a database from before it
    had all its columns (explanations, motion, verdicts) given them."""
    metadata.create_all(conn, [events, feedback, cameras], checkfirst=True)
    have = {c["name"] for c in sa.inspect(conn).get_columns("events")}
    double = "DOUBLE PRECISION" if _pg(conn) else "REAL"  # (PostgreSQL's REAL is 4 bytes: seconds off by minutes)
    for column in ("media_error TEXT", f"last_seen {double}", "why TEXT", "start_frame INTEGER", "end_frame INTEGER",
                   "motion TEXT", "label TEXT"):
        if column.split()[0] not in have:
            conn.execute(sa.text(f"ALTER TABLE events ADD COLUMN {column}"))


def _v2(conn: Connection) -> None:
    """A site: models in the database, workers, camera leases (and each camera's model file and ignored
    regions, for whichever worker takes it), and which worker recorded an event."""
    metadata.create_all(conn, [models, workers], checkfirst=True)
    if "worker" not in {c["name"] for c in sa.inspect(conn).get_columns("events")}:
        conn.execute(sa.text("ALTER TABLE events ADD COLUMN worker TEXT"))
    have = {c["name"] for c in sa.inspect(conn).get_columns("cameras")}
    for column, kind in (("checkpoint", "TEXT"), ("ignore", "TEXT"), ("holder", "TEXT"),
                         ("lease_until", "DOUBLE PRECISION" if _pg(conn) else "REAL")):
        if column not in have:
            conn.execute(sa.text(f"ALTER TABLE cameras ADD COLUMN {column} {kind}"))


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2]  # MIGRATIONS[k] takes a database to version k + 1


def _pg(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


def url_for(folder: Path, database: str | None) -> str:
    """The database's URL: `database` as given (postgresql:// means psycopg 3), else SQLite in `folder`."""
    if database is None:
        return f"sqlite:///{folder / 'events.db'}"
    if database.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + database.split("://", 1)[1]
    if database.startswith(("postgresql+psycopg://", "sqlite:///")):
        return database
    raise UserError(f"--db {database.split('://')[0]}://...: svdgan serve takes postgresql://USER@HOST/NAME "
                    "(or none: SQLite in --storage)")


def connect(url: str) -> Engine:
    """An engine on the database, its schema migrated to the newest version."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
                                  pool_size=1, max_overflow=4)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001 (SQLAlchemy's hook)
            # WAL: the web server reads while the scoring loop writes. The log is counted by retention
            # like any file: checkpointed every 64 pages, cut back to WAL_LIMIT_BYTES after each.
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=64",
                           f"journal_size_limit={WAL_LIMIT_BYTES}"):
                dbapi_connection.execute(f"PRAGMA {pragma}")
    else:
        try:
            import psycopg  # noqa: F401 (the driver SQLAlchemy loads)
        except ImportError:
            raise UserError("PostgreSQL needs psycopg: pip install 'svdgan[serve]'") from None
        given = sa.engine.make_url(url)
        options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={int(BUSY_TIMEOUT_S * 1000)} " + \
            str(given.query.get("options", ""))  # the URL's own options (a search_path, say) kept
        engine = sa.create_engine(given.difference_update_query(["options"]), pool_pre_ping=True, pool_size=2,
                                  max_overflow=4, connect_args={"connect_timeout": 5, "options": options.strip(),
                                                                "keepalives": 1, "keepalives_idle": 5,
                                                                "keepalives_interval": 2, "keepalives_count": 3,
                                                                "tcp_user_timeout": 10_000})
        # (a database that stops answering fails a call in about 10 s, not after the kernel's 2 hours)
    try:
        migrate(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise UserError(f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
                        f"{reason}") from None
    return engine


def version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0  # new, or from before versions (the first migration completes what it has)
    return conn.execute(sa.select(schema_version.c.version)).scalar_one()


def migrate(engine: Engine) -> int:
    """Apply the migrations the database lacks; returns its version."""
    with engine.connect() as conn, conn.begin():
        if _pg(conn):  # two workers starting at once: the second waits, then finds nothing to do
            conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
            conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        current = version(conn)
        if current > len(MIGRATIONS):
            raise UserError(f"the database's schema is version {current}, newer than this svdgan's "
                            f"{len(MIGRATIONS)}: upgrade svdgan")
        for step in MIGRATIONS[current:]:
            step(conn)
        if current < len(MIGRATIONS):
            metadata.create_all(conn, [schema_version], checkfirst=True)
            conn.execute(schema_version.delete())
            conn.execute(schema_version.insert().values(version=len(MIGRATIONS)))
    return len(MIGRATIONS)
