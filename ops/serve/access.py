"""Who may run which query, and the read-only sessions that answer them.

The engine enforces what it can: every SQL query runs on a chDB session of its own with `readonly = 1`
(no write, no DDL, no change of a setting), the config's limits as ClickHouse settings
(`max_execution_time`, `max_result_rows`, `max_result_bytes`, `result_overflow_mode = 'throw'`), and, for
a user granted only some stores, `additional_table_filters` that keep the other stores' rows out of every
footfall table it reads, through views as well. Those settings cannot be changed once `readonly = 1` is set.

chDB runs embedded, without ClickHouse's users, grants and row policies, so what the engine cannot
scope is checked on the engine's own reading of the query: it must parse as one statement
(`formatQuerySingleLine`), and its query tree (`EXPLAIN QUERY TREE`) may name only the tables of the
user's role (footfall's tables and views, or only the `shared_*` views for a partner), the system tables
that describe the schema (never users, grants, server settings, processes or logs), and none of the
functions that reach outside the store (`file`, `url`, `merge`, `remote`, ...). The statement that runs
is the engine's formatting of what it parsed, so nothing outside what was checked reaches it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from ops.serve.config import Role, ServeConfig, User, check_password
from projections.store import ChdbReader, ChdbStore, QueryAnswer, StoreError

# System tables a client reads to learn the schema and the server (clickhouse-connect reads
# system.settings on connect; DBeaver and Grafana list databases, tables, columns and functions).
SCHEMA_SYSTEM_TABLES = frozenset({
    "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "settings", "functions", "table_functions",
    "data_type_families", "formats", "databases", "tables", "columns", "time_zones", "collations",
    "keywords", "aggregate_function_combinators", "build_options", "contributors", "licenses",
})  # fmt: skip
# Table functions that make rows from nothing; every other one reads outside the store's tables.
SAFE_TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "values", "null"})
# Functions that read files or the server's configuration.
DENIED_FUNCTIONS = frozenset({"file", "getserversetting", "getmacro", "getclientsetting", "currentprofiles",
                              "defaultprofiles", "enabledprofiles", "currentroles", "enabledroles", "defaultroles",
                              "filesystemavailable", "filesystemcapacity", "filesystemunreserved"})  # fmt: skip
# Statements checked on the query tree; the rest only describe the schema (the engine refuses writes).
_CHECKED_MAX = 4096
_TREE_CHECKED = ("SELECT", "WITH", "(")
_DESCRIBING = ("SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN")
_TABLE_RE = re.compile(r"^\s*TABLE id: \d+.*?, table_name: ([^,\s]+)", re.MULTILINE)
_TABLE_FUNCTION_RE = re.compile(r"^\s*TABLE_FUNCTION id: \d+.*?, table_function_name: ([^,\s]+)", re.MULTILINE)
_FUNCTION_RE = re.compile(r"^\s*FUNCTION id: \d+, function_name: ([^,\s]+)", re.MULTILINE)
# The FORMAT clause as the engine formats a statement (formatQuerySingleLine): last, or before SETTINGS.
FORMAT_CLAUSE_RE = re.compile(r" FORMAT ([A-Za-z0-9_]+)((?: SETTINGS .*)?)$", re.S)
_ENGINE_ERROR_RE = re.compile(r"Code: (\d+)\. DB::Exception: (.*?)(?: \(([A-Z_]+)\))?(?: \(version [^)]*\))?\s*$", re.S)


class QueryError(Exception):
    """A refused or failed query, as ClickHouse reports it: exception code, name and message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code, self.name, self.message = code, name, message

    @classmethod
    def from_engine(cls, exc: StoreError) -> QueryError:
        text = str(exc).strip()
        match = _ENGINE_ERROR_RE.search(text)
        if match is None:
            return cls(1001, "STD_EXCEPTION", text)
        return cls(int(match.group(1)), match.group(3) or "UNKNOWN_EXCEPTION", match.group(2).rstrip(". "))


@dataclass(frozen=True)
class Principal:
    """An authenticated user: its name, role and granted stores (None: every store)."""

    name: str
    role: Role
    stores: tuple[str, ...] | None

    @property
    def scope(self) -> tuple[Role, tuple[str, ...] | None]:
        return self.role, self.stores


LOOPBACK_DEFAULT = Principal("default", Role.ANALYST, None)


class Access:
    """Authenticates users of the config and runs their queries on read-only sessions, one per scope."""

    def __init__(self, store: ChdbStore, config: ServeConfig) -> None:
        self._store = store
        self._config = config
        self._users = {u.name: u for u in config.users}
        self._verified: dict[tuple[str, str], bool] = {}  # (user, password) -> ok: scrypt once, not per query
        # Per scope, idle read-only sessions and how many exist: up to max_concurrent_queries each.
        self._idle: dict[tuple[Role, tuple[str, ...] | None], list[ChdbReader]] = {}
        self._opened: list[ChdbReader] = []
        # A dashboard or a report sends the same queries again and again: a statement that passed the
        # check for a scope passes it again (the check reads only the text), so it is not parsed twice.
        self._checked: dict[tuple[tuple[Role, tuple[str, ...] | None], str, tuple[str, ...]], str] = {}
        self._lock = threading.Lock()

    def authenticate(self, user: str, password: str, *, loopback: bool) -> Principal:
        """The principal for these credentials; QueryError 516 (AUTHENTICATION_FAILED) otherwise."""
        if not self._users:
            if user in ("", "default") and not password and loopback:
                return LOOPBACK_DEFAULT
            raise _auth_failed(user or "default", "no users are configured: only `default` from loopback")
        known: User | None = self._users.get(user)
        if known is None:
            raise _auth_failed(user, "password is incorrect, or there is no user with such name")
        key = (user, password)
        ok = self._verified.get(key)
        if ok is None:
            ok = check_password(password, known.password_scrypt)
            if len(self._verified) > 10_000:
                self._verified.clear()  # bounded: guessed passwords must not grow the cache without end
            self._verified[key] = ok
        if not ok:
            raise _auth_failed(user, "password is incorrect, or there is no user with such name")
        stores = None if "*" in known.stores else tuple(sorted(set(known.stores)))
        return Principal(known.name, known.role, stores)

    def run(
        self, principal: Principal, sql: str, default_format: str, params: dict[str, str]
    ) -> tuple[str, QueryAnswer]:
        """Check `sql` for `principal` on the engine and run it: the output format and the answer.

        QueryError on refusal or failure. The format is the statement's FORMAT clause, else `default_format`.
        """
        with self._session(principal) as session:
            key = (principal.scope, sql, tuple(sorted(params)))
            statement = self._checked.get(key)
            if statement is None:
                statement = self._single_statement(session, sql)
                self._check(session, principal, statement, params)
                with self._lock:
                    if len(self._checked) >= _CHECKED_MAX:
                        self._checked.pop(next(iter(self._checked)))  # the oldest: dicts keep insertion order
                    self._checked[key] = statement
            clause = FORMAT_CLAUSE_RE.search(statement)
            fmt = clause.group(1) if clause else default_format
            try:
                return fmt, session.query(statement, fmt, params)
            except StoreError as exc:
                raise QueryError.from_engine(exc) from None

    def current_setting(self, principal: Principal, name: str) -> str | None:
        """The value of setting `name` on the principal's session, None for an unknown setting."""
        with self._session(principal) as session:
            rows = session.query(
                "SELECT value FROM system.settings WHERE name = {name:String}", "TSVRaw", {"name": name}
            )
        text = rows.data.decode()
        return text[:-1] if text else None

    def close(self) -> None:
        with self._lock:
            sessions, self._opened, self._idle = self._opened, [], {}
        for session in sessions:
            session.close()

    @contextlib.contextmanager
    def _session(self, principal: Principal) -> Iterator[ChdbReader]:
        """An idle read-only session of the principal's scope, opened if none is idle; back when done.

        The endpoint runs at most max_concurrent_queries at once, so no scope opens more sessions.
        """
        with self._lock:
            idle = self._idle.setdefault(principal.scope, [])
            session = idle.pop() if idle else None
        if session is None:
            session = self._store.reader(self._settings(principal))
            with self._lock:
                self._opened.append(session)
        try:
            yield session
        finally:
            with self._lock:
                self._idle.setdefault(principal.scope, []).append(session)

    def _settings(self, principal: Principal) -> dict[str, str]:
        limits = self._config.limits
        settings = {
            "max_execution_time": repr(float(limits.max_execution_time_s)),
            "max_result_rows": str(limits.max_result_rows),
            "max_result_bytes": str(limits.max_result_bytes),
            "result_overflow_mode": "'throw'",
        }
        if principal.stores is not None:
            settings["additional_table_filters"] = self._store_filters(principal.stores)
        return settings

    def _store_filters(self, stores: tuple[str, ...]) -> str:
        """`additional_table_filters` keeping only `stores`' rows of every footfall table with a store_id."""
        db = self._store.database
        tables = [row[0] for row in self._store.query_rows(
            f"SELECT DISTINCT table FROM system.columns WHERE database = '{db}' AND name = 'store_id'"
        )]  # fmt: skip
        # Replays build <table>__build beside the live table and keep <table>__previous after a swap.
        names = sorted({t for table in tables for t in (table, f"{table}__build", f"{table}__previous")})
        allowed = ", ".join(f"''{s}''" for s in stores)  # store ids match [a-z0-9_-]: safe literals
        entries = ", ".join(f"'{db}.{t}': 'store_id IN ({allowed})'" for t in names)
        return "{" + entries + "}"

    def _single_statement(self, session: ChdbReader, sql: str) -> str:
        try:
            # RawBLOB: the formatted statement exactly as the engine wrote it, no escaping to undo.
            answer = session.query("SELECT formatQuerySingleLine({q:String})", "RawBLOB", {"q": _tsv_escape(sql)})
        except StoreError as exc:
            error = QueryError.from_engine(exc)
            # The engine's message quotes our wrapper; the user wrote only the query.
            raise QueryError(error.code, error.name, re.sub(r":? In scope SELECT formatQuerySingleLine\(.*", "",
                                                            error.message, flags=re.S)) from None  # fmt: skip
        statement = answer.data.decode()
        if not statement.strip():
            raise QueryError(62, "SYNTAX_ERROR", "Empty query")
        return statement

    def _check(self, session: ChdbReader, principal: Principal, statement: str, params: dict[str, str]) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head.startswith(_TREE_CHECKED):
            try:
                # The statement's own FORMAT would apply to the explanation: explained without it.
                bare = FORMAT_CLAUSE_RE.sub(r"\2", statement)
                tree = session.query(f"EXPLAIN QUERY TREE {bare}", "TSVRaw", params).data.decode(errors="replace")
            except StoreError as exc:
                raise QueryError.from_engine(exc) from None
            self._check_tree(principal, tree)
        elif head == "INSERT":
            # The engine's formatting leaves out inline data, so the statement is refused here as the
            # engine would refuse it (readonly = 1) rather than run without it.
            raise QueryError(164, "READONLY", f"{principal.name}: Cannot execute query in readonly mode")
        elif head in ("SET", "USE", "BEGIN", "COMMIT", "ROLLBACK", "KILL"):
            # Sessions are shared by a scope's queries: none of them may change it for the others.
            raise QueryError(164, "READONLY", f"{principal.name}: Cannot execute query in readonly mode")
        elif head not in _DESCRIBING:
            return  # a write or DDL: the engine refuses it (readonly = 1)

    def _check_tree(self, principal: Principal, tree: str) -> None:
        db = self._store.database
        for name in _TABLE_RE.findall(tree):
            database, _, table = name.partition(".")
            if database == "system" and table in SCHEMA_SYSTEM_TABLES:
                continue
            if database == db and (principal.role is Role.ANALYST or table.startswith("shared_")):
                continue
            what = "the shared_* views" if principal.role is Role.PARTNER else f"the tables of {db}"
            raise QueryError(497, "ACCESS_DENIED", f"{principal.name}: Not enough privileges. To execute this "
                             f"query, it's necessary to have the grant SELECT ON {name} (a {principal.role} reads "
                             f"{what})")  # fmt: skip
        for function in _TABLE_FUNCTION_RE.findall(tree):
            if function.lower() not in SAFE_TABLE_FUNCTIONS:
                raise QueryError(497, "ACCESS_DENIED", f"{principal.name}: Not enough privileges. To execute "
                                 f"this query, it's necessary to have the grant READ ON table function "
                                 f"{function}")  # fmt: skip
        for function in _FUNCTION_RE.findall(tree):
            if function.lower() in DENIED_FUNCTIONS:
                raise QueryError(497, "ACCESS_DENIED", f"{principal.name}: Not enough privileges. The function "
                                 f"{function} reads outside the store's tables")  # fmt: skip


def _auth_failed(user: str, why: str) -> QueryError:
    return QueryError(516, "AUTHENTICATION_FAILED", f"{user}: Authentication failed: {why}")


def _tsv_escape(text: str) -> str:
    """A query parameter's value is read in TSV's escaping: backslashes, tabs and newlines escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
