"""Reference data shared with dbt: the seed files in seeds/ are the single source of truth.

The loaders read them directly (validation needs the known subjects and tests before dbt runs);
dbt loads the same files as seeds for the models.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from loaders.config import PROJECT_DIR

SEEDS_DIR = PROJECT_DIR / "seeds"


def _read(seeds_dir: Path, name: str) -> list[dict[str, str]]:
    with (seeds_dir / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    dimensions: tuple[str, ...]


@dataclass(frozen=True)
class Test:
    test_id: str
    subject: str
    window_order: int


@dataclass(frozen=True)
class Band:
    band: str  # the band's key: its count column is <band>_count in every mart
    name: str
    min_score: int
    max_score: int

    @property
    def label(self) -> str:
        """A short column label: >=90, 80-89, <70."""
        if self.max_score >= 100:
            return f">={self.min_score}"
        if self.min_score <= 0:
            return f"<{self.max_score + 1}"
        return f"{self.min_score}-{self.max_score}"


@dataclass(frozen=True)
class GradeLevel:
    grade: int
    school_level: str  # the kind of school that teaches it: Elementary, Middle, High


@dataclass(frozen=True)
class Reference:
    subjects: tuple[Subject, ...]
    tests: tuple[Test, ...]
    # subject -> ascending minimum scores of levels 2, 3, 4 (level = 1 + number of cuts reached)
    level_cuts: dict[str, tuple[int, ...]]
    bands: tuple[Band, ...] = ()  # best first, as seeds/score_bands.csv lists them
    grade_levels: tuple[GradeLevel, ...] = ()  # lowest first, as seeds/grade_levels.csv lists them

    @property
    def grades(self) -> tuple[int, int]:
        """The lowest and the highest grade tested."""
        return self.grade_levels[0].grade, self.grade_levels[-1].grade

    @property
    def subject_codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.subjects)

    @property
    def test_subject(self) -> dict[str, str]:
        return {t.test_id: t.subject for t in self.tests}

    def level_for(self, subject: str, score: int) -> int:
        return 1 + sum(score >= cut for cut in self.level_cuts[subject])


@cache
def load_reference(seeds_dir: Path = SEEDS_DIR) -> Reference:
    subjects = tuple(
        Subject(r["subject"], r["subject_name"], tuple(d for d in r["dimensions"].split("|") if d))
        for r in _read(seeds_dir, "subjects.csv")
    )
    tests = tuple(
        Test(r["test_id"], r["subject"], int(r["window_order"])) for r in _read(seeds_dir, "tests.csv")
    )
    cuts: dict[str, list[int]] = {}
    for r in _read(seeds_dir, "performance_levels.csv"):
        if int(r["performance_level"]) > 1:
            cuts.setdefault(r["subject"], []).append(int(r["min_score"]))
    bands = tuple(
        Band(r["band"], r["band_name"], int(r["min_score"]), int(r["max_score"]))
        for r in _read(seeds_dir, "score_bands.csv")
    )
    grade_levels = tuple(
        GradeLevel(int(r["grade"]), r["school_level"]) for r in _read(seeds_dir, "grade_levels.csv")
    )
    numbers = [g.grade for g in grade_levels]
    if not numbers or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        # validation checks a range, so the seed must list whole consecutive grades, lowest first
        raise ValueError(f"{seeds_dir / 'grade_levels.csv'}: grades must be consecutive, lowest first")
    return Reference(subjects, tests, {s: tuple(sorted(c)) for s, c in cuts.items()}, bands, grade_levels)
