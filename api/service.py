"""The report API's engine side: lookups, the build-versioned cache, scope checks.

``Reports`` answers a report for a key as JSON bytes. A cached answer of the current generation
(api/cache.py) is returned as it is; otherwise the answer is one lookup in the serving layer
(api/reports.py), stored when the build did not change meanwhile. A watcher thread reads the
published build and the roster's version every ``poll_seconds``: a new build gets a new generation
(scope maps loaded, the old generation's most recent keys warmed), switched in at once; a new
roster drops the roster entries held (a removed user is refused from then on).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from api import reports
from api.cache import Generation, Key
from endpoint.parsing import escape_parameter
from loaders.roles import ENGINEER, SCOPE_COLUMNS, STATE
from loaders.roster import ROSTER_TABLE, Entry, entry_of, lookup_sql

log = logging.getLogger("scores.api")
JSON_SETTINGS = " SETTINGS output_format_json_quote_64bit_integers = 0, output_format_json_quote_decimals = 0"


class Engine(Protocol):
    def rows(self, sql: str, parameters: dict[str, str]) -> list[list[Any]]: ...


class EngineUnavailableError(RuntimeError):
    """The engine is down or too busy to answer (the API answers 503)."""


class ChdbEngine:
    """Queries on raw connections of the process's embedded engine, a few at a time."""

    def __init__(self, open_raw: Callable[[], Any], size: int = 4, timeout: float = 10.0) -> None:
        self._open_raw = open_raw
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._timeout = timeout

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        if not self._slots.acquire(timeout=self._timeout):
            raise EngineUnavailableError("the engine is busy: every API connection stayed in use")
        try:
            try:
                raw = self._pool.get_nowait()
            except queue.Empty:
                raw = self._open_raw()
            yield raw
            self._pool.put(raw)
        finally:
            self._slots.release()

    def rows(self, sql: str, parameters: dict[str, str]) -> list[list[Any]]:
        try:
            with self._connection() as raw:
                result = raw.query(
                    sql + JSON_SETTINGS,
                    "JSONCompactEachRow",
                    params={k: escape_parameter(v) for k, v in parameters.items()},
                )
                text = bytes(result.bytes())
        except EngineUnavailableError:
            raise
        except Exception as ex:
            raise EngineUnavailableError(str(ex).strip().splitlines()[0][:300]) from None
        return [json.loads(line) for line in text.splitlines() if line]


class ForbiddenError(Exception):
    """The user may not read this report (403)."""


class NotFoundError(Exception):
    """No such key in the current build (404)."""


@dataclass(frozen=True)
class Viewer:
    """Who asks: a roster role and scope, or an unscoped reader (engineer)."""

    name: str
    role: str
    scope: tuple[str, ...] = ()

    @property
    def unscoped(self) -> bool:
        return self.role in (STATE, ENGINEER)


@dataclass
class Reports:
    engine: Engine
    database: str
    state_database: str
    roster_database: str
    max_bytes: int = 256 << 20
    warm_keys: int = 2000
    poll_seconds: float = 0.2
    _queries: dict[str, reports.Query] = field(init=False)
    _current: Generation = field(init=False)
    _changing: bool = field(init=False, default=True)
    _roster_version: str = field(init=False, default="")
    _roster: dict[str, Entry | None] = field(init=False, default_factory=dict)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _watcher: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._queries = reports.queries(self.database)
        self._current = Generation("", self.max_bytes)
        self.refresh()

    # -- builds ------------------------------------------------------------------------------

    @property
    def generation(self) -> Generation:
        return self._current

    @property
    def changing(self) -> bool:
        """Whether the serving layer may be changing (a run in progress or failed): answers are
        then looked up but not cached."""
        return self._changing

    def refresh(self) -> None:
        """Read the published build and the roster's version; switch to a new build's generation."""
        try:
            ((build, changing),) = self.engine.rows(
                reports.BUILD_STATE_SQL.format(state=self.state_database), {}
            )
        except EngineUnavailableError:
            build, changing = self._current.build, True  # no build state yet: nothing is cached
        self._changing = bool(changing) or not build
        version = self._roster_version_now()
        if version != self._roster_version:
            self._roster_version = version
            self._roster = {}
        if build and build != self._current.build:
            self._switch(str(build))

    def _switch(self, build: str) -> None:
        old = self._current
        new = Generation(build, self.max_bytes)
        new.teachers = self._scope_map("teacher")
        new.schools = self._scope_map("school")
        for key in old.recent_keys(self.warm_keys):
            with contextlib.suppress(NotFoundError, EngineUnavailableError):
                new.put(key, self._look_up(key, new))
        self._current = new  # one reference: a request sees the old generation or the new one
        log.info("report API: build %s (%d answers warmed)", build, new.size[0])

    def _scope_map(self, kind: str) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        try:
            rows = self.engine.rows(reports.SCOPE_MAPS_SQL[kind].format(database=self.database), {})
        except EngineUnavailableError:
            return {}
        return {str(r[0]): (frozenset(r[1]), frozenset(r[2])) for r in rows}

    def _roster_version_now(self) -> str:
        try:
            rows = self.engine.rows(
                "SELECT toString(uuid), toString(metadata_modification_time), total_rows FROM system.tables "
                "WHERE database = {d:String} AND name = {t:String}",
                {"d": self.roster_database, "t": ROSTER_TABLE},
            )
        except EngineUnavailableError:
            return self._roster_version
        return json.dumps(rows)

    def start(self) -> None:
        def watch() -> None:
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.refresh()
                except Exception:  # keep watching: the next poll retries
                    log.exception("report API: refreshing the build state failed")

        self._watcher = threading.Thread(target=watch, name="scores-api-builds", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    # -- who asks ----------------------------------------------------------------------------

    def roster_entry(self, name: str) -> Entry | None:
        """The user's roster entry, or None (no roster, or not in it); held until the roster changes."""
        if name in self._roster:
            return self._roster[name]
        if self._roster_version in ("", "[]"):  # no roster table (yet)
            return None
        rows = self.engine.rows(lookup_sql(self.roster_database), {"u": name})
        entry = entry_of(name, str(rows[0][0]), str(rows[0][1])) if rows else None
        self._roster[name] = entry
        return entry

    # -- answers -----------------------------------------------------------------------------

    def answer(self, viewer: Viewer, report: str, key: Key) -> tuple[bytes, str]:
        """(JSON bytes, build id) of a report for a key, or ForbiddenError / NotFoundError."""
        generation = self._current
        self._check(viewer, report, key, generation)
        cache_key = (report, *key)
        answer = generation.get(cache_key)
        if answer is None:
            changing = self._changing
            answer = self._look_up(cache_key, generation)
            if not changing and not self._changing and generation is self._current:
                generation.put(cache_key, answer)
        return answer, generation.build

    def _look_up(self, cache_key: Key, generation: Generation) -> bytes:
        report, key = str(cache_key[0]), cache_key[1:]
        query = self._queries[report]
        parameters = {name: _text(value) for (name, _), value in zip(query.parameters, key, strict=True)}
        rows = self.engine.rows(query.sql, parameters)
        data = (rows[0][0] if rows else []) if query.one_array else [list(r) for r in rows]
        if not data and report not in (reports.MY_CLASSROOMS, reports.TESTS, reports.DISTRICT_SCHOOLS):
            raise NotFoundError(
                f"no {report.replace('_', ' ')} for {', '.join(map(str, key))} in build {generation.build}"
            )
        body: dict[str, Any] = {
            "build": generation.build,
            **dict(zip((n for n, _ in query.parameters), key, strict=True)),
        }
        if not query.one_array:
            data = [dict(zip(query.columns, row, strict=True)) for row in data]
        body["rows"] = data
        return json.dumps(body, separators=(",", ":")).encode()

    def _check(self, viewer: Viewer, report: str, key: Key, generation: Generation) -> None:
        if viewer.unscoped or report in (reports.TESTS, reports.MY_CLASSROOMS):
            return
        column = SCOPE_COLUMNS.get(viewer.role)
        scope = set(viewer.scope)
        if report in (reports.CLASSROOM, reports.STUDENTS):
            teacher = str(key[1])
            schools, districts = generation.teachers.get(teacher, (frozenset(), frozenset()))
            allowed = {"teacher_id": {teacher}, "school_id": schools, "district_id": districts}
        elif report == reports.SCHOOL_GRADES:
            school = str(key[1])
            _, districts = generation.schools.get(school, (frozenset(), frozenset()))
            allowed = {"school_id": {school}, "district_id": districts}
        elif report == reports.DISTRICT_SCHOOLS:
            allowed = {"district_id": {str(key[1])}}
        else:
            allowed = {}  # the districts of a state: state and engineer only
        if column is None or not scope & set(allowed.get(column, ())):
            raise ForbiddenError(
                f"{viewer.name} ({viewer.role}) may not read this {report.replace('_', ' ')}"
            )

    def my_classrooms(self, viewer: Viewer) -> tuple[bytes, str]:
        """The classrooms a viewer's scope covers (every one for the unscoped: too many to list)."""
        if viewer.unscoped:
            raise ForbiddenError(
                f"{viewer.name} ({viewer.role}) has no classrooms of its own: ask a school or district"
            )
        levels = ("teacher", "principal", "district")
        key = tuple(viewer.scope if viewer.role == level else () for level in levels)
        return self.answer(viewer, reports.MY_CLASSROOMS, key)


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        quoted = ("'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for v in value)
        return "[" + ",".join(quoted) + "]"
    return str(value)
