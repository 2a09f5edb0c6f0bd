"""Answers held in memory, one generation per published build.

A generation holds the answers of one build (the dbt run that published it, macros/build_state.sql)
and the scope maps its checks need. The service makes the next generation when a new build is
published, warms it with the keys most recently asked of the old one, and then switches to it by
replacing one reference. A request takes the current generation once, so its answer comes from
one build: either a cached answer of that generation or a lookup stored only if that generation
is still current and the serving layer was not changing while it was looked up.

Memory is bounded by bytes: the answers of a generation are kept in least-recently-used order
until their sizes add up to ``max_bytes`` (SCORES_API_CACHE_MB, default 256), then the oldest go.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

Key = tuple[Hashable, ...]


@dataclass
class Generation:
    build: str  # the published build id ('' before the first one)
    max_bytes: int
    # teacher or school id -> (school ids, district ids), for scope checks
    teachers: dict[str, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)
    schools: dict[str, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)
    _answers: OrderedDict[Key, bytes] = field(default_factory=OrderedDict)
    _bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0
    misses: int = 0

    def get(self, key: Key) -> bytes | None:
        # a hit moves the key to the recent end; the lock keeps the order consistent, and a
        # dictionary lookup plus a move is all it guards
        with self._lock:
            answer = self._answers.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._answers.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: Key, answer: bytes) -> None:
        if len(answer) > self.max_bytes:
            return
        with self._lock:
            previous = self._answers.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._answers[key] = answer
            self._bytes += len(answer)
            while self._bytes > self.max_bytes:
                _, evicted = self._answers.popitem(last=False)
                self._bytes -= len(evicted)

    def recent_keys(self, limit: int) -> list[Key]:
        """The most recently used keys, most recent first (to warm the next generation)."""
        with self._lock:
            keys = list(self._answers)
        return keys[::-1][:limit]

    @property
    def size(self) -> tuple[int, int]:
        """(answers, bytes) held."""
        with self._lock:
            return len(self._answers), self._bytes
