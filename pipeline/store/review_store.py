"""SQL for the review app: users, sessions, the queue, call pages, claims, grades and the audit log.

Requests share one open database (``ReviewStore.open``: a cursor each), and the nightly run, which
also opens the file only briefly per call, can write in between: DuckDB lets one process write at
a time and ``connect_with_retry`` makes each side wait its turn. While another process waits (it
touches a marker file beside the database), the app lets its open requests drain before starting
new ones and then closes the database, so a busy app cannot starve the batch. With
``keep_open_s`` the database stays open that long after the last request (opening it costs more
than a queue page's queries), and is still closed as soon as another process asks for it;
without, the last request to finish closes it. Either way every request sees every committed
write: while this process has the file open, no other process can write to it.

Team scope is applied here, in SQL: a supervisor's queries only ever see calls of their teams.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from pipeline.store.connection import (
    LOCK_RETRY_S,
    connect_with_retry,
    transaction,
    utc_now,
    waiting_marker,
)
from pipeline.queue import MANUAL_REVIEW, REASON_KINDS
from pipeline.store.queue_listing import LISTING, refresh_call
from pipeline.store.store import Store

ROLES = ("supervisor", "qa_lead", "admin", "agent")
QUEUE_STATUSES = ("pending", "mine", "in_review", "done")
# The queue page's reason filter: label -> the reason kind the queue policy (pipeline/queue.py) stores.
REASON_FILTERS = {label: kind for kind, label in REASON_KINDS.items()}
# Queue columns one can sort by -> the column of the queue query. Ties keep the default order.
QUEUE_SORTS = {
    "priority": "priority",
    "score": "score",
    "human": "human_score",
    "call": "call_id",
    "agent": "agent_id",
    "team": "team",
    "date": "call_at",
    "length": "duration_s",
    "status": "status",
}
# The queue's own order, after the column sorted by: (column of the queue query, direction and
# where NULLs go). Spelled out in full: the page is found by counting along its first terms.
DEFAULT_QUEUE_ORDER = (
    ("priority", "ASC NULLS LAST"), ("score", "ASC NULLS FIRST"), ("call_at", "DESC NULLS LAST"),
    ("call_id", "ASC NULLS LAST"),
)  # fmt: skip
# Queue columns with few distinct values (priorities, scores, teams, agents, statuses). A page of
# the queue is found by counting the rows of each value of the leading sort columns among these
# (one GROUP BY, no sort); only the rows of the values that fall on the page are then sorted, so a
# deep page no longer sorts every row before it. Two columns narrow it enough; more groups cost more.
FEW_VALUES = frozenset({"priority", "score", "status", "team", "agent_id"})
MAX_COUNTED_COLUMNS = 2
# Columns of many values counted by a coarser value that sorts the same way (whole seconds of the
# call's length), as the last column counted. Measured at 1M calls, none pays for the call id
# (grouping by its first characters costs as much as sorting by it) or its date (by day: slower
# than the sort, which the calls' arrival in date order already helps).
COUNTED_COARSELY = {"duration_s": "floor(duration_s)"}
# The review in force of each call ``calls`` keeps (the newest one no other review amends): the
# human verdict the done tab shows beside the automatic one.
REVIEWS_IN_FORCE = """
    SELECT call_id, human_score, human_passed, reviewer FROM reviews r
     WHERE {calls} AND NOT EXISTS (SELECT 1 FROM reviews a WHERE a.amends_review_id = r.review_id)
   QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY submitted_at DESC) = 1"""
MAX_SAVED_FILTERS = 50
# A waiting process touches its marker at least every 0.2 s (connect_with_retry's longest pause).
MARKER_FRESH_S = 0.5
MAX_STEP_ASIDE_S = 3.0
# How often a database kept open between requests checks for a waiting process and its idle time.
KEEP_OPEN_CHECK_S = 0.05


@dataclass(frozen=True)
class User:
    username: str
    role: str
    teams: tuple[str, ...] = ()
    disabled: bool = False

    @property
    def sees_all_teams(self) -> bool:
        return self.role in ("qa_lead", "admin")


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page shows; every field optional except the status tab."""

    status: str = "pending"  # pending / mine / in_review / done
    reason: str | None = None  # a key of REASON_FILTERS
    agent: str | None = None  # an agent id, or "unassigned"
    team: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    score_min: float | None = None
    score_max: float | None = None
    sort: str = "priority"  # a key of QUEUE_SORTS
    descending: bool = False
    category: str | None = None  # a call reason id (call_categories)


@dataclass
class QueuePage:
    rows: list[dict]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class CriterionGrade:
    """A reviewer's verdict on one criterion: ``agreed`` keeps the automatic result."""

    criterion_id: str
    status: str
    points: float | None
    comment: str | None = None
    agreed: bool = True


@dataclass
class ReviewSubmission:
    call_id: str
    grades: list[CriterionGrade]
    overall_comment: str | None = None
    coaching_notes: str | None = None
    amends_review_id: str | None = None
    rubric_id: str | None = None
    rubric_version: int | None = None
    human_score: float | None = None
    human_passed: bool | None = None
    amend_reason: str | None = None  # required for an amendment


class ReviewConflict(Exception):
    """The action no longer applies (already claimed by someone else, already amended, ...)."""


class NotFound(Exception):
    """No such call, or not one this user may see (the two are never told apart)."""


class Forbidden(Exception):
    """The call is visible but this user may not do this to it."""


def _another_process_waits(marker: str) -> bool:
    """Another process is waiting for the database: its marker was touched just now."""
    try:
        return time.time() - os.stat(marker).st_mtime < MARKER_FRESH_S
    except OSError:
        return False


def _step_aside_for_waiting_process(marker: str) -> None:
    """Hold back a new connection while another process waits for the database (its marker is
    fresh): this process's open connections drain and the waiter gets its turn."""
    deadline = time.monotonic() + MAX_STEP_ASIDE_S
    while time.monotonic() < deadline and _another_process_waits(marker):
        time.sleep(0.02)


class ReviewStore:
    """The review app's view of one database file; thread-safe. Holds the file while requests run
    and ``keep_open_s`` after the last one, but not while another process waits for it."""

    def __init__(self, path: str, lock_timeout_s: float = LOCK_RETRY_S, keep_open_s: float = 0.0):
        self.path = str(path)
        self.lock_timeout_s = lock_timeout_s
        self.keep_open_s = keep_open_s
        self._waiting_marker = waiting_marker(self.path)
        # Check-then-write steps (claim, submit) run one at a time in this process; other processes
        # cannot write at the same moment at all (DuckDB's file lock).
        self._write_lock = threading.Lock()
        # One database instance while requests overlap: each request gets its own cursor (its own
        # connection and transactions) on it, and the last request to finish closes it, so the
        # file is free whenever the app is idle. Opening an instance costs far more than a query,
        # and opening one while another thread closed the last one fails in DuckDB ("Unique file
        # handle conflict"), so instances are opened and closed under this lock.
        self._instance_lock = threading.Lock()
        self._instance: duckdb.DuckDBPyConnection | None = None
        self._requests = 0
        # With keep_open_s: when the last request ended, and the thread that closes the idle
        # instance (running while an instance is open and idle, else none).
        self._idle_since = 0.0
        self._closer: threading.Thread | None = None
        self._rubric_cache: dict[tuple[str, int], tuple[dict[str, dict], float | None]] = {}

    def ensure_schema(self) -> None:
        """Create or update the tables (once, at start-up; requests do not re-run the schema)."""
        with Store(self.path, lock_timeout_s=self.lock_timeout_s) as store:
            # the human verdict of reviews saved before it was stored: the same rule as on submit
            store.con.execute(
                """UPDATE reviews r SET human_passed =
                       r.human_score >= b.pass_mark
                       AND NOT EXISTS (SELECT 1 FROM human_grades g JOIN criterion_scores cs
                                         ON cs.call_id = r.call_id AND cs.rubric_id = r.rubric_id
                                        AND cs.rubric_version = r.rubric_version AND cs.criterion_id = g.criterion_id
                                      WHERE g.review_id = r.review_id AND g.status = 'fail' AND cs.auto_fail)
                     FROM rubrics b
                    WHERE b.rubric_id = r.rubric_id AND b.rubric_version = r.rubric_version
                      AND r.human_passed IS NULL AND r.human_score IS NOT NULL"""
            )

    @contextmanager
    def open(self) -> Iterator[ReviewDB]:
        _step_aside_for_waiting_process(self._waiting_marker)
        with self._instance_lock:
            if self._instance is None:
                self._instance = connect_with_retry(
                    self.path, read_only=False, timeout_s=self.lock_timeout_s
                )
            self._requests += 1
            cursor = self._instance.cursor()
        try:
            yield ReviewDB(cursor, self)
        finally:
            cursor.close()
            with self._instance_lock:
                self._requests -= 1
                if self._requests == 0:
                    if self.keep_open_s > 0:
                        self._idle_since = time.monotonic()
                        if self._closer is None:
                            self._closer = threading.Thread(
                                target=self._close_when_idle, name="review-db-closer", daemon=True
                            )
                            self._closer.start()
                            atexit.register(self.close)  # an exiting process closes it cleanly
                    else:
                        self._close_instance()

    @property
    def holds_file(self) -> bool:
        """The database is open in this process now (with ``keep_open_s``, between requests too)."""
        with self._instance_lock:
            return self._instance is not None

    def close(self) -> None:
        """Close the database now unless a request is using it (the app's shutdown)."""
        with self._instance_lock:
            if self._requests == 0:
                self._close_instance()

    def _close_instance(self) -> None:
        """Under ``_instance_lock``, with no request running."""
        if self._instance is not None:
            self._instance.close()
            self._instance = None

    def _close_when_idle(self) -> None:
        """Close the kept-open database once it has been idle ``keep_open_s``, or as soon as no
        request runs while another process waits for it; then end."""
        while True:
            time.sleep(KEEP_OPEN_CHECK_S)
            with self._instance_lock:
                if self._instance is not None and self._requests:
                    continue  # the last request to end sets _idle_since again
                if self._instance is not None:
                    idle_s = time.monotonic() - self._idle_since
                    if idle_s < self.keep_open_s and not _another_process_waits(
                        self._waiting_marker
                    ):
                        continue
                    self._close_instance()
                self._closer = None
                atexit.unregister(self.close)
                return


def queue_order(column: str, descending: bool) -> list[tuple[str, str]]:
    """The queue's ORDER BY terms when sorted by ``column`` (a value of ``QUEUE_SORTS``): that
    column (NULLs last either way), then the default order without it again (rows tied on it are
    equal in it, so it would decide nothing)."""
    first = (column, f"{'DESC' if descending else 'ASC'} NULLS LAST")
    return [first, *(term for term in DEFAULT_QUEUE_ORDER if term[0] != column)]


def counted_prefix(terms: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What the queue page counts rows by, from the leading order terms: (the value, a column of
    few values or a coarser value of one of many, and its order). Rows with the same values are
    next to each other in the queue's order, those groups in the order given. None when the
    queue is sorted by the call id, its date or the human score (joined to the rows)."""
    counted = []
    for column, direction in terms[:MAX_COUNTED_COLUMNS]:
        if column in FEW_VALUES:
            counted.append((column, direction))
            continue
        if column in COUNTED_COARSELY:
            counted.append((COUNTED_COARSELY[column], direction))
        break
    return counted


def current_review(reviews: list[dict]) -> dict | None:
    """The review in force: the newest one no other review amends (a call has at most one)."""
    standing = [r for r in reviews if not r["amended"]]
    return max(standing, key=lambda r: r["submitted_at"] or datetime.min) if standing else None


def _scope_sql(user: User, alias: str = "c") -> tuple[str, list]:
    if user.role == "agent":
        return "FALSE", []  # an agent reaches only their own reviewed calls (pipeline/store/coaching_store.py)
    if user.sees_all_teams:
        return "TRUE", []
    return f"{alias}.team IN (SELECT unnest(?::VARCHAR[]))", [list(user.teams)]


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ReviewDB:
    """Queries on one open connection (one request)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: ReviewStore):
        self.con = con
        self.store = store

    # --- users, sessions, audit -------------------------------------------------------------

    def user(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash (for login), or None."""
        row = self.con.execute(
            "SELECT username, role, teams, disabled, password_hash FROM users WHERE username = ?",
            [username],
        ).fetchone()
        if row is None:
            return None
        return User(row[0], row[1], tuple(row[2] or ()), bool(row[3])), row[4]

    def users(self) -> list[User]:
        rows = self.con.execute(
            "SELECT username, role, teams, disabled FROM users ORDER BY username"
        ).fetchall()
        return [User(r[0], r[1], tuple(r[2] or ()), bool(r[3])) for r in rows]

    def add_user(
        self, username: str, password_hash: str, role: str, teams: list[str], by: str,
        agent_id: str | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self.store._write_lock:
            with transaction(self.con):
                if self.con.execute(
                    "SELECT count(*) FROM users WHERE username = ?", [username]
                ).fetchone()[0]:
                    raise ReviewConflict(f"user {username!r} already exists")
                self.con.execute(
                    "INSERT INTO users (username, password_hash, role, teams, created_at, disabled, agent_id)"
                    " VALUES (?, ?, ?, ?, ?, false, ?)",
                    [username, password_hash, role, teams, utc_now(), agent_id],
                )
                added = {"role": role, "teams": teams} | ({"agent_id": agent_id} if agent_id else {})
                self._audit(by, "user_add", username, None, json.dumps(added))

    def set_disabled(self, username: str, disabled: bool, by: str) -> None:
        with self.store._write_lock:
            with transaction(self.con):
                row = self.con.execute(
                    "SELECT disabled FROM users WHERE username = ?", [username]
                ).fetchone()
                if row is None:
                    raise NotFound(username)
                self.con.execute(
                    "UPDATE users SET disabled = ? WHERE username = ?", [disabled, username]
                )
                if disabled:
                    self.con.execute(
                        "UPDATE review_sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                        [utc_now(), username],
                    )
                self._audit(
                    by, "user_disable" if disabled else "user_enable", username,
                    json.dumps({"disabled": bool(row[0])}), json.dumps({"disabled": disabled}),
                )  # fmt: skip

    def create_session(self, username: str, token: str, ttl_s: float) -> None:
        now = utc_now()
        self.con.execute(
            "INSERT INTO review_sessions (session_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [_session_hash(token), username, now, now + timedelta(seconds=ttl_s)],
        )

    def session_user(self, token: str) -> User | None:
        """The logged-in user behind a session token: unexpired, not logged out, not disabled."""
        row = self.con.execute(
            "SELECT u.username, u.role, u.teams FROM review_sessions s JOIN users u USING (username)"
            " WHERE s.session_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND NOT u.disabled",
            [_session_hash(token), utc_now()],
        ).fetchone()
        return User(row[0], row[1], tuple(row[2] or ())) if row else None

    def revoke_session(self, token: str) -> None:
        self.con.execute(
            "UPDATE review_sessions SET revoked_at = ? WHERE session_hash = ? AND revoked_at IS NULL",
            [utc_now(), _session_hash(token)],
        )

    # --- login throttling (the policy itself is pure: pipeline/review/auth.py) ------------------

    def login_failure_counts(self, username: str, address: str) -> dict[str, tuple[int, float]]:
        """The failure counts that apply to a try by ``username`` from ``address``: scope ->
        (failures, seconds since the last one). Only the (name, address) pair counts where the
        name has logged in from this address before; elsewhere the name's and the address's too."""
        keys = self._throttle_keys(username, address)
        rows = self.con.execute(
            'SELECT scope, failures, epoch(? - last_failed_at) FROM login_failures WHERE (scope, "key") IN'
            " (SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]))",
            [utc_now(), list(keys), list(keys.values())],
        ).fetchall()
        return {scope: (int(failures), float(since_s)) for scope, failures, since_s in rows}

    def _throttle_keys(self, username: str, address: str) -> dict[str, str]:
        keys = {"pair": f"{username} {address}"}
        if not self.is_usual_address(username, address):
            keys |= {"name": username, "address": address}
        return keys

    def is_usual_address(self, username: str, address: str) -> bool:
        return bool(
            self.con.execute(
                "SELECT count(*) FROM login_addresses WHERE username = ? AND address = ?",
                [username, address],
            ).fetchone()[0]
        )

    def record_login_failure(self, username: str, address: str, forget_after_s: float) -> None:
        """Count a failed login (and the audit row); counts quiet for ``forget_after_s`` restart."""
        keys = self._throttle_keys(username, address)
        now = utc_now()
        with self.store._write_lock:
            with transaction(self.con):
                # forgotten counts go, so the table holds only what is still in force
                self.con.execute(
                    "DELETE FROM login_failures WHERE last_failed_at < ?",
                    [now - timedelta(seconds=forget_after_s)],
                )
                for scope, key in keys.items():
                    updated = self.con.execute(
                        'UPDATE login_failures SET failures = failures + 1, last_failed_at = ? WHERE scope = ? AND "key" = ?'
                        " RETURNING failures",
                        [now, scope, key],
                    ).fetchall()
                    if not updated:
                        self.con.execute(
                            'INSERT INTO login_failures (scope, "key", failures, last_failed_at) VALUES (?, ?, 1, ?)',
                            [scope, key, now],
                        )
                self._audit(username, "login_failed", address)

    def record_login(self, username: str, address: str) -> None:
        """A successful login: the pair's count is cleared and the address becomes one of the name's."""
        now = utc_now()
        with self.store._write_lock:
            with transaction(self.con):
                self.con.execute(
                    "DELETE FROM login_failures WHERE scope = 'pair' AND \"key\" = ?",
                    [f"{username} {address}"],
                )
                self.con.execute(
                    "DELETE FROM login_addresses WHERE username = ? AND address = ?",
                    [username, address],
                )
                self.con.execute(
                    "INSERT INTO login_addresses (username, address, last_login_at) VALUES (?, ?, ?)",
                    [username, address, now],
                )
                self._audit(username, "login", address)

    def audit(
        self, username: str | None, action: str, obj: str | None, before=None, after=None
    ) -> None:
        self._audit(username, action, obj, before, after)

    def _audit(self, username, action, obj, before=None, after=None) -> None:
        as_text = [
            v if v is None or isinstance(v, str) else json.dumps(v, default=str)
            for v in (before, after)
        ]
        self.con.execute(
            'INSERT INTO audit_log ("at", username, action, object, "before", "after") VALUES (?, ?, ?, ?, ?, ?)',
            [utc_now(), username, action, obj, *as_text],
        )

    def audit_rows(
        self, call_id: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[dict]:
        where, params = ["TRUE"], []
        if call_id:
            where.append("object = ?")
            params.append(call_id)
        if action:
            where.append("action = ?")
            params.append(action)
        return _dicts(
            self.con.execute(
                f'SELECT "at", username, action, object, "before", "after" FROM audit_log WHERE {" AND ".join(where)}'
                ' ORDER BY "at" DESC LIMIT ?',
                [*params, limit],
            )
        )

    # --- queue -------------------------------------------------------------------------------

    def queue_page(
        self, user: User, filters: QueueFilters, page: int = 1, page_size: int = 50
    ) -> QueuePage:
        scope, params = _scope_sql(user, alias="q")
        where = ["q.has_call", scope]
        if filters.status == "mine":
            where.append("q.status = 'in_review' AND q.assigned_to = ?")
            params.append(user.username)
        else:
            where.append("q.status = ?")
            params.append(filters.status if filters.status in QUEUE_STATUSES else "pending")
        if filters.reason in REASON_FILTERS:
            where.append("list_contains(q.reason_kinds, ?)")
            params.append(REASON_FILTERS[filters.reason])
        if filters.agent == "unassigned":
            where.append("q.agent_id IS NULL")
        elif filters.agent:
            where.append("q.agent_id = ?")
            params.append(filters.agent)
        if filters.team:
            where.append("q.team = ?")
            params.append(filters.team)
        if filters.date_from:
            where.append("coalesce(q.started_at, q.processed_at) >= ?")
            params.append(datetime.combine(filters.date_from, datetime.min.time()))
        if filters.date_to:
            where.append("coalesce(q.started_at, q.processed_at) < ?")
            params.append(
                datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
            )
        if filters.score_min is not None:
            where.append("q.score >= ?")
            params.append(filters.score_min)
        if filters.score_max is not None:
            where.append("q.score <= ?")
            params.append(filters.score_max)
        if filters.category:
            where.append("q.call_id IN (SELECT call_id FROM call_categories WHERE category_id = ?)")
            params.append(filters.category)
        page = max(1, page)
        terms = queue_order(QUEUE_SORTS.get(filters.sort, "priority"), filters.descending)
        if filters.status != "done":  # only done calls have a human verdict: it sorts nothing
            terms = [term for term in terms if term[0] != "human_score"]
        order = ", ".join(f"{column} {direction}" for column, direction in terms)
        # Done calls show the human verdict beside the automatic one: joined to every row when the
        # page is sorted by it, else looked up for the page's rows only (_add_human_verdicts).
        human_columns = (
            "NULL::DOUBLE AS human_score, NULL::BOOLEAN AS human_passed, NULL::VARCHAR AS reviewer"
        )
        human_join = ""
        if terms[0][0] == "human_score":
            human_columns = "h.human_score, h.human_passed, h.reviewer"
            verdicts = REVIEWS_IN_FORCE.format(calls="TRUE")
            human_join = f"LEFT JOIN ({verdicts}) h ON h.call_id = q.call_id"
        # The listing holds each queue row with its call's and score's columns: the count and the
        # page are each one scan of it.
        queue_rows = f"""
            SELECT q.call_id, q.priority, q.reasons, q.status, q.assigned_to, q.score, q.auto_fail,
                   q.agent_id, q.team, q.queue_name, coalesce(q.started_at, q.processed_at) AS call_at,
                   q.started_at IS NULL AS date_is_processing_time, q.duration_s,
                   {human_columns}
              FROM {LISTING} q
              {human_join}
             WHERE {" AND ".join(where)}"""
        offset = (page - 1) * page_size
        counted = counted_prefix(terms)
        if counted:
            total, values, before = self._locate_page(
                queue_rows, params, counted, offset, page_size
            )
            one_value = " AND ".join(f"{value} IS NOT DISTINCT FROM ?" for value, _ in counted)
            value_params = [v for value in values for v in value]
            rows = []
            if values:  # else the page is past the end
                rows = _dicts(
                    self.con.execute(
                        f"""SELECT * FROM ({queue_rows})
                             WHERE {" OR ".join(f"({one_value})" for _ in values)}
                             ORDER BY {order} LIMIT ? OFFSET ?""",
                        [*params, *value_params, page_size, offset - before],
                    )
                )
        else:  # ORDER BY ... LIMIT keeps only the rows up to the page while it sorts
            total = self.con.execute(
                f"SELECT count(*) FROM {LISTING} q WHERE {' AND '.join(where)}", params
            ).fetchone()[0]
            rows = _dicts(
                self.con.execute(
                    f"SELECT * FROM ({queue_rows}) ORDER BY {order} LIMIT ? OFFSET ?",
                    [*params, page_size, offset],
                )
            )
        if filters.status == "done" and not human_join:
            self._add_human_verdicts(rows)
        self._add_call_reasons(rows)
        return QueuePage(rows, total, page, page_size)

    def _locate_page(
        self,
        queue_rows: str,
        params: list,
        counted: list[tuple[str, str]],
        offset: int,
        limit: int,
    ) -> tuple[int, list[tuple], int]:
        """Where rows ``offset`` to ``offset + limit`` of ``queue_rows`` lie, by counting: the
        number of rows, the values of the ``counted`` terms (``counted_prefix``) whose rows hold
        the page, in order, and how many rows come before the first of them."""
        columns = ", ".join(f"{value} AS value{i}" for i, (value, _) in enumerate(counted))
        order = ", ".join(f"value{i} {direction}" for i, (_, direction) in enumerate(counted))
        found = self.con.execute(
            f"""WITH counted AS (SELECT {columns}, count(*) AS n FROM ({queue_rows}) GROUP BY ALL),
                     placed AS (SELECT *, sum(n) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) - n
                                       AS before
                                  FROM counted)
                SELECT t.total, p.* FROM (SELECT coalesce(sum(n), 0) AS total FROM counted) t
                  LEFT JOIN placed p ON p.before < ? AND p.before + p.n > ?
                 ORDER BY p.before""",
            [*params, offset + limit, offset],
        ).fetchall()
        total = int(found[0][0])
        width = len(counted)
        values = [row[1 : 1 + width] for row in found if row[1 + width] is not None]
        before = int(found[0][2 + width]) if values else 0
        return total, values, before

    def _add_human_verdicts(self, rows: list[dict]) -> None:
        """Each row's human verdict (its call's review in force), looked up for this page's calls."""
        verdicts = {
            call_id: (score, passed, reviewer)
            for call_id, score, passed, reviewer in self.con.execute(
                REVIEWS_IN_FORCE.format(calls="call_id IN (SELECT unnest(?::VARCHAR[]))"),
                [[row["call_id"] for row in rows]],
            ).fetchall()
        }
        for row in rows:
            verdict = verdicts.get(row["call_id"], (None, None, None))
            row["human_score"], row["human_passed"], row["reviewer"] = verdict

    def _add_call_reasons(self, rows: list[dict]) -> None:
        """Each row's call reasons (names, comma-separated), looked up for this page's calls only."""
        names = dict(
            self.con.execute(
                "SELECT call_id, string_agg(name, ', ' ORDER BY name) FROM call_categories"
                " WHERE call_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY call_id",
                [[row["call_id"] for row in rows]],
            ).fetchall()
        )
        for row in rows:
            row["categories"] = names.get(row["call_id"])

    def filter_choices(self, user: User) -> dict[str, list[str]]:
        """Agents and teams to offer in the queue filters (within the user's scope)."""
        scope, params = _scope_sql(user, alias="q")
        agents = self.con.execute(
            f"SELECT DISTINCT agent_id FROM {LISTING} q WHERE {scope} AND agent_id IS NOT NULL ORDER BY 1 LIMIT 500",
            params,
        ).fetchall()
        if user.sees_all_teams:
            teams = self.con.execute(
                f"SELECT DISTINCT team FROM {LISTING} WHERE team IS NOT NULL ORDER BY 1 LIMIT 200"
            ).fetchall()
            team_names = [t[0] for t in teams]
        else:
            team_names = sorted(user.teams)
        categories = self.con.execute(
            "SELECT category_id, any_value(name) FROM call_categories GROUP BY 1 ORDER BY 2"
        ).fetchall()
        return {"agents": [a[0] for a in agents], "teams": team_names, "categories": categories}

    def saved_filters(self, user: User) -> list[dict]:
        return _dicts(
            self.con.execute(
                "SELECT name, query FROM saved_filters WHERE username = ? ORDER BY lower(name)",
                [user.username],
            )
        )

    def save_filter(self, user: User, name: str, query: str) -> None:
        """Keep the queue's query string under a name of the user's (replacing one of that name)."""
        with self.store._write_lock:
            with transaction(self.con):
                self.con.execute(
                    "DELETE FROM saved_filters WHERE username = ? AND name = ?",
                    [user.username, name],
                )
                count = self.con.execute(
                    "SELECT count(*) FROM saved_filters WHERE username = ?", [user.username]
                ).fetchone()[0]
                if count >= MAX_SAVED_FILTERS:
                    raise ReviewConflict(
                        f"you have {count} saved filters, the most kept: delete one first"
                    )
                self.con.execute(
                    "INSERT INTO saved_filters (username, name, query, created_at) VALUES (?, ?, ?, ?)",
                    [user.username, name, query, utc_now()],
                )

    def delete_filter(self, user: User, name: str) -> None:
        self.con.execute(
            "DELETE FROM saved_filters WHERE username = ? AND name = ?", [user.username, name]
        )

    def search(self, user: User, text: str, limit: int = 50) -> list[dict]:
        """Calls in scope whose id starts with ``text`` or whose transcript contains it."""
        scope, params = _scope_sql(user)
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return _dicts(
            self.con.execute(
                f"""WITH hits AS (
                        SELECT t.call_id, min(t.start_s) AS at_s, arg_min(t.text, t.start_s) AS text
                          FROM turns t WHERE t.text ILIKE ? ESCAPE '\\' GROUP BY t.call_id
                        UNION ALL
                        SELECT call_id, NULL, NULL FROM calls WHERE starts_with(call_id, ?)
                    )
                    SELECT h.call_id, min(h.at_s) AS at_s, any_value(h.text) AS text, c.agent_id, c.team,
                           coalesce(c.started_at, c.processed_at) AS call_at, c.duration_s
                      FROM hits h JOIN calls c ON c.call_id = h.call_id
                     WHERE {scope} AND c.status = 'done'
                     GROUP BY ALL ORDER BY call_at DESC, h.call_id LIMIT ?""",
                [pattern, text.lower(), *params, limit],
            )
        )

    # --- one call ----------------------------------------------------------------------------

    def _visible_call(self, user: User, call_id: str) -> dict:
        scope, params = _scope_sql(user)
        rows = _dicts(
            self.con.execute(
                f"""SELECT call_id, status, duration_s, channels, diarizer, agent_id, team, queue_name, started_at,
                           processed_at, redacted_audio_path IS NOT NULL AS has_audio, asr_model,
                           mean_word_probability, diarization_confidence, role_confidence,
                           redacted_audio_path, redacted_sha256
                      FROM calls c WHERE call_id = ? AND {scope}""",
                [call_id, *params],
            )
        )
        if not rows:
            raise NotFound(call_id)
        return rows[0]

    def call_view(self, user: User, call_id: str) -> dict:
        """Everything the call page shows; ``NotFound`` for a call outside the user's teams.
        ``audio`` is the redacted copy's stored path and hash (None without one): for the app to
        check and serve, never to show."""
        call = self._visible_call(user, call_id)
        stored = (call.pop("redacted_audio_path"), call.pop("redacted_sha256"))
        queue = _dicts(
            self.con.execute(
                "SELECT priority, reasons, status, assigned_to, rubric_id, rubric_version, created_at FROM review_queue"
                " WHERE call_id = ? ORDER BY CASE status WHEN 'in_review' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,"
                " created_at DESC",
                [call_id],
            )
        )
        active = next((q for q in queue if q["status"] in ("pending", "in_review")), None)
        score = self._score_for(call_id, active)
        criteria, pass_mark = [], None
        if score:
            criteria = self._criteria(call_id, score["rubric_id"], score["rubric_version"])
            pass_mark = self._rubric(score["rubric_id"], score["rubric_version"])[1]
        reviews = self._reviews(call_id)
        return {
            "call": call,
            "audio": stored if stored[0] else None,
            "queue": active,
            "queue_history": queue,
            "score": score,
            "pass_mark": pass_mark,
            "reviews": reviews,
            "current_review": current_review(reviews),
            "draft": self.draft(user, call_id),
            "criteria": criteria,
            "turns": _dicts(
                self.con.execute(
                    "SELECT turn_idx, speaker, start_s, end_s, text FROM turns WHERE call_id = ? ORDER BY start_s, turn_idx",
                    [call_id],
                )
            ),
            "events": _dicts(
                self.con.execute(
                    "SELECT kind, start_s, end_s, speaker, detail FROM events WHERE call_id = ? ORDER BY start_s",
                    [call_id],
                )
            ),
            "redactions": _dicts(
                self.con.execute(
                    "SELECT kind, start_s, end_s FROM redactions WHERE call_id = ? ORDER BY start_s",
                    [call_id],
                )
            ),
        }

    def _score_for(self, call_id: str, queue: dict | None) -> dict | None:
        """The score the queue entry was made under, else the call's newest."""
        if queue and queue["rubric_id"]:
            rows = _dicts(
                self.con.execute(
                    "SELECT * FROM call_scores WHERE call_id = ? AND rubric_id = ? AND rubric_version = ?",
                    [call_id, queue["rubric_id"], queue["rubric_version"]],
                )
            )
            if rows:
                return rows[0]
        rows = _dicts(
            self.con.execute(
                "SELECT * FROM call_scores WHERE call_id = ? ORDER BY scored_at DESC, rubric_version DESC LIMIT 1",
                [call_id],
            )
        )
        return rows[0] if rows else None

    def _criteria(self, call_id: str, rubric_id: str, rubric_version: int) -> list[dict]:
        rows = _dicts(
            self.con.execute(
                """SELECT cs.criterion_id, cs.stage, cs.points, cs.max_points, cs.status, cs.auto_fail, cs.confidence,
                          cs.evidence_text, cs.evidence_start_s, cs.evidence_end_s, t.trusted, t.reason AS trust_reason
                     FROM criterion_scores cs
                     LEFT JOIN (SELECT * FROM criterion_trust WHERE rubric_id = ? AND rubric_version = ?
                                QUALIFY row_number() OVER (PARTITION BY criterion_id ORDER BY decided_at DESC) = 1) t
                       ON t.criterion_id = cs.criterion_id
                    WHERE cs.call_id = ? AND cs.rubric_id = ? AND cs.rubric_version = ?""",
                [rubric_id, rubric_version, call_id, rubric_id, rubric_version],
            )
        )
        described = self._rubric(rubric_id, rubric_version)[0]
        order = list(described)
        for row in rows:
            info = described.get(row["criterion_id"], {})
            row["description"] = info.get("description", "")
            row["stage_name"] = info.get("stage_name", row["stage"] or "")
            row["type"] = info.get("type", "")
            row["needs_human"] = row["trusted"] is False
        rows.sort(
            key=lambda r: (
                order.index(r["criterion_id"]) if r["criterion_id"] in order else len(order)
            )
        )
        return rows

    def _rubric(self, rubric_id: str, rubric_version: int) -> tuple[dict[str, dict], float | None]:
        """criterion id -> description, type and stage name, from the stored rubric criteria, and
        the pass mark (cached: a rubric version never changes)."""
        key = (rubric_id, rubric_version)
        cache = self.store._rubric_cache
        if key not in cache:
            rows = self.con.execute(
                "SELECT criterion_id, description, type, stage_name FROM rubric_criteria"
                " WHERE rubric_id = ? AND rubric_version = ? ORDER BY position",
                [rubric_id, rubric_version],
            ).fetchall()
            described = {cid: {"description": text, "type": kind, "stage_name": stage} for cid, text, kind, stage in rows}
            mark = self.con.execute(
                "SELECT pass_mark FROM rubrics WHERE rubric_id = ? AND rubric_version = ?", [rubric_id, rubric_version]
            ).fetchone()
            cache[key] = (described, float(mark[0]) if mark else None)
        return cache[key]

    def _reviews(self, call_id: str) -> list[dict]:
        reviews = _dicts(
            self.con.execute(
                """SELECT r.*, EXISTS (SELECT 1 FROM reviews a WHERE a.amends_review_id = r.review_id) AS amended
                     FROM reviews r WHERE r.call_id = ? ORDER BY r.submitted_at""",
                [call_id],
            )
        )
        if reviews:
            grades = _dicts(
                self.con.execute(
                    "SELECT g.* FROM human_grades g WHERE g.review_id IN (SELECT review_id FROM reviews WHERE call_id = ?)",
                    [call_id],
                )
            )
            for review in reviews:
                review["grades"] = {
                    g["criterion_id"]: g for g in grades if g["review_id"] == review["review_id"]
                }
        return reviews

    # --- drafts ----------------------------------------------------------------------------------

    def draft(self, user: User, call_id: str) -> dict | None:
        """This user's unsubmitted grading of the call: fields (form field -> value), what it amends
        and when it was saved; None when there is none."""
        row = self.con.execute(
            "SELECT fields, amends_review_id, saved_at FROM review_drafts WHERE username = ? AND call_id = ?",
            [user.username, call_id],
        ).fetchone()
        if row is None:
            return None
        return {"fields": json.loads(row[0]), "amends_review_id": row[1], "saved_at": row[2]}

    def save_draft(
        self, user: User, call_id: str, fields: dict[str, str], amends_review_id: str | None
    ) -> datetime:
        """Keep what the user has typed so far for this call (replacing their previous draft)."""
        self._visible_call(user, call_id)
        now = utc_now()
        with self.store._write_lock:
            with transaction(self.con):
                self._delete_draft(user.username, call_id)
                self.con.execute(
                    "INSERT INTO review_drafts (username, call_id, amends_review_id, fields, saved_at) VALUES (?, ?, ?, ?, ?)",
                    [user.username, call_id, amends_review_id, json.dumps(fields), now],
                )
        return now

    def discard_draft(self, user: User, call_id: str) -> None:
        self._delete_draft(user.username, call_id)

    def _delete_draft(self, username: str, call_id: str) -> None:
        self.con.execute(
            "DELETE FROM review_drafts WHERE username = ? AND call_id = ?", [username, call_id]
        )

    def audio_file(self, user: User, call_id: str) -> tuple[str, str | None]:
        """The redacted copy's path and hash: the only audio the app serves. ``NotFound`` otherwise."""
        scope, params = _scope_sql(user)
        row = self.con.execute(
            f"SELECT redacted_audio_path, redacted_sha256 FROM calls c WHERE call_id = ? AND {scope}",
            [call_id, *params],
        ).fetchone()
        if row is None or not row[0]:
            raise NotFound(call_id)
        return row[0], row[1]

    # --- claims and reviews ------------------------------------------------------------------

    def claim(self, user: User, call_id: str) -> str:
        """Take the call for review (atomically); returns 'claimed' or 'already yours'.

        ``ReviewConflict`` when someone else has it; a call that is not queued gets a manual entry.
        """
        self._visible_call(user, call_id)
        with self.store._write_lock:
            with transaction(self.con, on_conflict=ReviewConflict(f"call {call_id} was claimed by someone else just now")):
                reviewed = self._current_review_row(call_id)
                if reviewed:
                    raise ReviewConflict(
                        f"call {call_id} already has a review (by {reviewed['reviewer']}): amend that review instead"
                    )
                claimed = self._set_queue_status(
                    "status = 'in_review', assigned_to = ?", "call_id = ? AND status = 'pending'",
                    [user.username, call_id],
                )
                outcome, before = "claimed", {"queue": "pending"}
                if not claimed:
                    holder = self.con.execute(
                        "SELECT assigned_to FROM review_queue WHERE call_id = ? AND status = 'in_review'",
                        [call_id],
                    ).fetchone()
                    if holder and holder[0] == user.username:
                        return "already yours"
                    if holder:
                        raise ReviewConflict(
                            f"call {call_id} is already being reviewed by {holder[0]}"
                        )
                    score = self._score_for(call_id, None)
                    self.con.execute(
                        "INSERT INTO review_queue (call_id, priority, reasons, reason_kinds, rubric_id, rubric_version,"
                        " status, assigned_to, created_at)"
                        " VALUES (?, ?, 'manual review', ['manual_review'], ?, ?, 'in_review', ?, ?)",
                        [
                            call_id, MANUAL_REVIEW, score["rubric_id"] if score else None,
                            score["rubric_version"] if score else None, user.username, utc_now(),
                        ],
                    )  # fmt: skip
                    refresh_call(self.con, call_id)
                    outcome, before = "claimed (manual review)", {"queue": None}
                after = {"queue": "in_review", "assigned_to": user.username}
                self._audit(user.username, "claim", call_id, before, after)
        return outcome

    def _set_queue_status(self, assignments: str, condition: str, params: list) -> list[tuple]:
        """Change queue rows' status (and holder) in ``review_queue`` and the same rows of the queue
        listing (both hold these columns as they are, so the same condition finds the same rows);
        returns the changed rows' priorities."""
        changed = self.con.execute(
            f"UPDATE review_queue SET {assignments} WHERE {condition} RETURNING priority", params
        ).fetchall()
        self.con.execute(f"UPDATE {LISTING} SET {assignments} WHERE {condition}", params)
        return changed

    def _current_review_row(self, call_id: str) -> dict | None:
        rows = _dicts(
            self.con.execute(
                "SELECT review_id, reviewer, submitted_at FROM reviews r WHERE call_id = ?"
                " AND NOT EXISTS (SELECT 1 FROM reviews a WHERE a.amends_review_id = r.review_id)"
                " ORDER BY submitted_at DESC LIMIT 1",
                [call_id],
            )
        )
        return rows[0] if rows else None

    def release(self, user: User, call_id: str) -> None:
        """Give a claimed call back to the queue (its holder, or a QA lead / admin)."""
        self._visible_call(user, call_id)
        with self.store._write_lock:
            with transaction(self.con):
                holder = self.con.execute(
                    "SELECT assigned_to FROM review_queue WHERE call_id = ? AND status = 'in_review'",
                    [call_id],
                ).fetchone()
                if holder is None:
                    raise ReviewConflict(f"call {call_id} is not being reviewed")
                if holder[0] != user.username and not user.sees_all_teams:
                    raise Forbidden(f"call {call_id} is being reviewed by {holder[0]}")
                self._set_queue_status(
                    "status = 'pending', assigned_to = NULL", "call_id = ? AND status = 'in_review'", [call_id]
                )
                self._audit(
                    user.username, "release", call_id,
                    {"queue": "in_review", "assigned_to": holder[0]}, {"queue": "pending"},
                )  # fmt: skip

    def submit_review(
        self, user: User, submission: ReviewSubmission, started_at: datetime | None = None
    ) -> str:
        """Store a review and its grades, close the queue item, drop the draft, log it: one
        transaction. Returns the review id.

        A call has at most one current review. A first review needs the call claimed by this user
        and no review standing; any later one is an amendment of the current review, by its
        reviewer (or a QA lead / admin), with a reason, added as a new row, never overwriting.
        """
        call_id = submission.call_id
        self._visible_call(user, call_id)
        with self.store._write_lock:
            with transaction(self.con, on_conflict=ReviewConflict(f"call {call_id} changed while saving: reload and try again")):
                current = self._current_review_row(call_id)
                if submission.amends_review_id:
                    before = self._check_amendment(user, submission, current)
                    action = "amend"
                else:
                    if current:
                        raise ReviewConflict(
                            f"call {call_id} already has a review (by {current['reviewer']}):"
                            " amend that review instead"
                        )
                    holder = self.con.execute(
                        "SELECT assigned_to FROM review_queue WHERE call_id = ? AND status = 'in_review'",
                        [call_id],
                    ).fetchone()
                    if holder is None or holder[0] != user.username:
                        raise ReviewConflict(
                            f"claim call {call_id} before grading it"
                            + (f" (it is being reviewed by {holder[0]})" if holder else "")
                        )
                    before = {"queue": "in_review", "assigned_to": user.username, "review": None}
                    action = "grade"
                review_id = uuid.uuid4().hex
                now = utc_now()
                if started_at is None:
                    started_at = self.con.execute(
                        "SELECT max(\"at\") FROM audit_log WHERE action = 'claim' AND object = ? AND username = ?",
                        [call_id, user.username],
                    ).fetchone()[0]
                self.con.execute(
                    "INSERT INTO reviews (review_id, call_id, reviewer, rubric_id, rubric_version, human_score,"
                    " human_passed, overall_comment, coaching_notes, source, amends_review_id, amend_reason,"
                    " started_at, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'app', ?, ?, ?, ?)",
                    [
                        review_id, call_id, user.username, submission.rubric_id, submission.rubric_version,
                        submission.human_score, submission.human_passed, submission.overall_comment,
                        submission.coaching_notes, submission.amends_review_id, submission.amend_reason,
                        started_at, now,
                    ],
                )  # fmt: skip
                if submission.grades:
                    self.con.executemany(
                        "INSERT INTO human_grades (review_id, criterion_id, status, points, comment) VALUES (?, ?, ?, ?, ?)",
                        [
                            [review_id, g.criterion_id, g.status, g.points, g.comment]
                            for g in submission.grades
                        ],
                    )
                after = {"review": self._review_summary(review_id)}
                if action == "grade":
                    self._set_queue_status(
                        "status = 'done'", "call_id = ? AND status = 'in_review' AND assigned_to = ?",
                        [call_id, user.username],
                    )
                    after |= {"queue": "done", "assigned_to": user.username}
                self._delete_draft(user.username, call_id)
                self._audit(user.username, action, call_id, before, after)
        return review_id

    def _check_amendment(
        self, user: User, submission: ReviewSubmission, current: dict | None
    ) -> dict:
        """Refuse an amendment that may not be made; return the amended review as it stands."""
        amended = _dicts(
            self.con.execute(
                "SELECT review_id, reviewer FROM reviews WHERE review_id = ? AND call_id = ?",
                [submission.amends_review_id, submission.call_id],
            )
        )
        if not amended:
            raise NotFound(submission.amends_review_id)
        if current is None or current["review_id"] != submission.amends_review_id:
            raise ReviewConflict("that review has already been amended: amend the latest version")
        if amended[0]["reviewer"] != user.username and not user.sees_all_teams:
            raise Forbidden("only the reviewer or a QA lead can amend a review")
        if not (submission.amend_reason or "").strip():
            raise ReviewConflict("an amendment needs a reason")
        return {"review": self._review_summary(submission.amends_review_id)}

    def _review_summary(self, review_id: str) -> dict:
        """A review as the audit log records it: its fields and its grades."""
        review = _dicts(
            self.con.execute(
                "SELECT review_id, reviewer, human_score, human_passed, overall_comment, coaching_notes,"
                " amends_review_id, amend_reason FROM reviews WHERE review_id = ?",
                [review_id],
            )
        )[0]
        return review | {"grades": self._grades_summary(review_id)}

    def _grades_summary(self, review_id: str) -> dict:
        rows = self.con.execute(
            "SELECT criterion_id, status, points, comment FROM human_grades WHERE review_id = ?",
            [review_id],
        ).fetchall()
        return {r[0]: [r[1], r[2], r[3]] for r in rows}
