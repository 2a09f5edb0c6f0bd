"""Synthetic, realistic student test scores at any scale, streamed in Arrow batches.

The world: states -> districts -> schools (elementary, middle, high: seeds/grade_levels.csv) -> grades ->
class sections of 18-32 students. Every section has one teacher per subject; every student takes
every test of the year (seeds/tests.csv: ELA-Q1 ... SCI-Q4). Students keep their id from year to
year and move up a grade, teachers keep their section. Scores mix student ability, school and
teacher effects, subject difficulty, growth through the year and noise, giving a bell-shaped
distribution around 72 (sd ~14) clipped to 0-100. The reported performance level comes from the
cut scores in seeds/performance_levels.csv; dimension scores (names from seeds/subjects.csv)
scatter around the overall score.

Output is deterministic for a given (rows, seed, school_years) and independent of batch size.
Memory is bounded by the batch size: the world (schools, teachers) is small and rows are made
one (year, school) at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders import school_calendar
from loaders.reference import Reference, load_reference
from loaders.schema import INPUT_SCHEMA

STATES = ("CA", "TX", "NY", "FL", "WA", "IL", "OH", "GA", "NC", "MI")
# how common each kind of school is; the grades each teaches come from seeds/grade_levels.csv
SCHOOL_LEVEL_SHARES = {"Elementary": 0.5, "Middle": 0.3, "High": 0.2}
PLACE_NAMES = (
    "Lincoln",
    "Washington",
    "Jefferson",
    "Roosevelt",
    "Madison",
    "Franklin",
    "Jackson",
    "Adams",
    "Riverside",
    "Lakeview",
    "Hillcrest",
    "Oak Grove",
    "Maple",
    "Cedar",
    "Pine Ridge",
    "Sunset",
    "Fairview",
    "Greenwood",
    "Westfield",
    "Eastside",
    "Northgate",
    "Southport",
    "Brookside",
    "Highland",
    "Valley",
    "Meadow",
    "Summit",
    "Harbor",
    "Canyon",
    "Prairie",
    "Willow",
    "Aspen",
)
CITY_NAMES = (
    "Springfield",
    "Riverton",
    "Fairmont",
    "Georgetown",
    "Clinton",
    "Salem",
    "Bristol",
    "Dover",
    "Arlington",
    "Ashland",
    "Burlington",
    "Centerville",
    "Dayton",
    "Franklin",
    "Greenville",
    "Hudson",
    "Kingston",
    "Lexington",
    "Marion",
    "Milton",
    "Newport",
    "Oxford",
    "Plymouth",
    "Richmond",
)
DISTRICT_KINDS = ("Unified School District", "Independent School District", "Public Schools")
FIRST_NAMES = (
    "Maria",
    "James",
    "Aisha",
    "Chen",
    "Olivia",
    "Mateo",
    "Priya",
    "Noah",
    "Fatima",
    "Liam",
    "Sofia",
    "Ethan",
    "Amara",
    "Lucas",
    "Hana",
    "Diego",
    "Grace",
    "Omar",
    "Emma",
    "Kenji",
    "Zoe",
    "Samuel",
    "Leila",
    "Daniel",
    "Nora",
    "Ivan",
    "Chloe",
    "Tariq",
    "Ruth",
    "Andre",
)
LAST_NAMES = (
    "Garcia",
    "Smith",
    "Johnson",
    "Nguyen",
    "Patel",
    "Brown",
    "Kim",
    "Martinez",
    "Okafor",
    "Davis",
    "Lopez",
    "Wilson",
    "Chen",
    "Anderson",
    "Singh",
    "Thomas",
    "Hernandez",
    "Moore",
    "Ali",
    "Taylor",
    "Cohen",
    "Jackson",
    "White",
    "Rossi",
    "Harris",
    "Sato",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
)
TEST_DAY = {1: (10, 14), 2: (1, 20), 3: (3, 17), 4: (5, 19)}  # window_order -> (month, day)
MIN_CLASS, MAX_CLASS = 18, 32


@dataclass(frozen=True)
class GeneratorSpec:
    rows: int
    seed: int = 42
    school_years: tuple[int, ...] = (2024, 2025, 2026)
    skip: int = 0  # leave out the first `skip` rows: rows=N+k, skip=N gives just the k rows after N

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError("rows must be at least 1")
        if not 0 <= self.skip < self.rows:
            raise ValueError("skip must be at least 0 and less than rows")
        if not self.school_years:
            raise ValueError("at least one school year is needed")

    @property
    def checksum(self) -> str:
        """Identity of the generated data: the same spec always yields the same rows."""
        text = f"generator-v1 rows={self.rows} seed={self.seed} years={','.join(map(str, self.school_years))}"
        if self.skip:
            text += f" skip={self.skip}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def source(self) -> str:
        years = ",".join(map(str, self.school_years))
        skip = f",skip={self.skip}" if self.skip else ""
        return f"generator:rows={self.rows},seed={self.seed},years={years}{skip}"


def _mix(*values: object) -> int:
    """Deterministic 63-bit seed from integers."""
    digest = hashlib.blake2b(",".join(map(str, values)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _hash_normal(keys: np.ndarray, salt: int) -> np.ndarray:
    """Standard normal values that depend only on (key, salt): a student's ability is stable."""
    x = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt & 0xFFFFFFFFFFFF)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    u1 = ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    y = x * np.uint64(0xD6E8FEB86659FD93)
    u2 = ((y >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@dataclass
class School:
    index: int
    school_id: str
    name: str
    district: int
    grades: tuple[int, ...]
    sections: int
    effect: float


@dataclass
class World:
    """The fixed part of the synthetic data: organisations and people."""

    spec: GeneratorSpec
    reference: Reference
    schools: list[School] = field(default_factory=list)
    district_ids: list[str] = field(default_factory=list)
    district_names: list[str] = field(default_factory=list)
    district_states: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, spec: GeneratorSpec, reference: Reference) -> World:
        world = cls(spec, reference)
        levels = tuple(SCHOOL_LEVEL_SHARES)
        shares = tuple(SCHOOL_LEVEL_SHARES.values())
        spans = tuple(
            tuple(g.grade for g in reference.grade_levels if g.school_level == level) for level in levels
        )
        rng = np.random.default_rng(_mix(spec.seed, "world"))
        # every student of a section takes every test of the year
        rows_per_section_year = len(reference.tests) * (MIN_CLASS + MAX_CLASS) / 2
        needed_sections = spec.rows / (len(spec.school_years) * rows_per_section_year)
        capacity = 0.0
        district = -1
        left_in_district = 0
        while capacity < needed_sections * 1.1 + 1:
            if left_in_district == 0:
                district += 1
                left_in_district = int(rng.integers(3, 13))
                state = STATES[int(rng.integers(0, len(STATES)))] if district else STATES[0]
                city = CITY_NAMES[district % len(CITY_NAMES)]
                suffix = "" if district < len(CITY_NAMES) else f" {district // len(CITY_NAMES) + 1}"
                kind = DISTRICT_KINDS[district % len(DISTRICT_KINDS)]
                world.district_ids.append(f"D{district + 1:04d}")
                world.district_names.append(f"{city}{suffix} {kind}")
                world.district_states.append(state)
            index = len(world.schools)
            span = int(rng.choice(len(levels), p=shares))
            sections = int(rng.integers(1, 5))
            place = PLACE_NAMES[int(rng.integers(0, len(PLACE_NAMES)))]
            world.schools.append(
                School(
                    index=index,
                    school_id=f"SCH{index + 1:05d}",
                    name=f"{place} {levels[span]} School",
                    district=district,
                    grades=spans[span],
                    sections=sections,
                    effect=float(rng.normal(0.0, 1.0)),
                )
            )
            capacity += len(spans[span]) * sections
            left_in_district -= 1
        return world


def _teacher_name(number: int) -> str:
    first = FIRST_NAMES[(number * 7919) % len(FIRST_NAMES)]
    last = LAST_NAMES[(number * 104729 // 7) % len(LAST_NAMES)]
    return f"{first} {last}"


def _school_year_rows(world: World, school: School, year: int) -> pa.Table:
    """All rows of one school in one school year."""
    ref, spec = world.reference, world.spec
    rng = np.random.default_rng(_mix(spec.seed, school.index, year))
    grades, sections, seats = [], [], []
    for grade_level in school.grades:
        for section_no in range(school.sections):
            size = int(rng.integers(MIN_CLASS, MAX_CLASS + 1))
            grades.append(np.full(size, grade_level, dtype=np.int64))
            sections.append(np.full(size, section_no, dtype=np.int64))
            seats.append(np.arange(size, dtype=np.int64))
    grade = np.concatenate(grades)
    section = np.concatenate(sections)
    seat = np.concatenate(seats)
    cohort = (year - grade) % 64
    student_no = ((school.index * 64 + cohort) * 8 + section) * 64 + seat
    ability = _hash_normal(student_no, spec.seed)

    n_students, n_tests = len(student_no), len(ref.tests)
    subject_index = {s.code: i for i, s in enumerate(ref.subjects)}
    test_subject = np.array([subject_index[t.subject] for t in ref.tests])
    test_order = np.array([t.window_order for t in ref.tests])

    s_grade = np.repeat(grade, n_tests)
    s_section = np.repeat(section, n_tests)
    s_student = np.repeat(student_no, n_tests)
    s_ability = np.repeat(ability, n_tests)
    t_index = np.tile(np.arange(n_tests), n_students)
    t_subject = test_subject[t_index]
    t_order = test_order[t_index]
    teacher_no = ((school.index * 16 + s_grade) * 8 + t_subject) * 8 + s_section
    teacher_effect = _hash_normal(teacher_no, spec.seed + 1)
    subject_difficulty = np.array([0.0, -2.0, -1.0, 1.0, -3.0])[t_subject % 5]
    noise = rng.normal(0.0, 1.0, len(s_student))
    z = 0.72 * s_ability + 0.28 * school.effect + 0.18 * teacher_effect + 0.5 * noise
    score = np.clip(np.rint(72.0 + subject_difficulty + 1.5 * (t_order - 1) + 13.0 * z), 0, 100)
    score = score.astype(np.uint8)

    cuts = np.zeros((len(ref.subjects), 3), dtype=np.int64)
    for i, subject in enumerate(ref.subjects):
        cuts[i, : len(ref.level_cuts[subject.code])] = ref.level_cuts[subject.code]
    level = (1 + (score[:, None] >= cuts[t_subject]).sum(axis=1)).astype(np.uint8)

    day_offset = int(rng.integers(0, 7))
    test_dates = []
    for t in ref.tests:
        month, day = TEST_DAY[t.window_order]
        calendar_year = year - 1 if month >= school_calendar.FIRST_MONTH else year
        test_dates.append((dt.date(calendar_year, month, day) - dt.date(1970, 1, 1)).days + day_offset)
    test_date = np.array(test_dates, dtype=np.int32)[t_index]

    # dimension scores: JSON objects built column-wise
    dim_parts: list[pa.Array] = []
    max_dims = max(len(s.dimensions) for s in ref.subjects)
    for d in range(max_dims):
        names = pa.array([s.dimensions[d] if d < len(s.dimensions) else "" for s in ref.subjects])
        values = np.clip(np.rint(score + rng.normal(0.0, 7.0, len(score))), 0, 100).astype(np.int64)
        name_col = names.take(pa.array(t_subject))
        part = pc.binary_join_element_wise('"', name_col, '": ', pc.cast(pa.array(values), pa.string()), "")
        if d:
            part = pc.if_else(pc.equal(name_col, ""), "", pc.binary_join_element_wise(", ", part, ""))
        dim_parts.append(part)
    dimension_scores = pc.binary_join_element_wise("{", *dim_parts, "}", "")

    district = school.district
    teacher_ids = pc.binary_join_element_wise("T", pc.cast(pa.array(teacher_no), pa.string()), "")
    unique_teachers, teacher_pos = np.unique(teacher_no, return_inverse=True)
    teacher_names = pa.array([_teacher_name(int(n)) for n in unique_teachers]).take(pa.array(teacher_pos))
    subject_codes = pa.array([s.code for s in ref.subjects]).take(pa.array(t_subject))
    test_ids = pa.array([t.test_id for t in ref.tests]).take(pa.array(t_index))
    n = len(s_student)

    def const(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(
            pa.string()
        )

    columns = {
        "student_id": pc.binary_join_element_wise("S", pc.cast(pa.array(s_student), pa.string()), ""),
        "teacher_id": teacher_ids,
        "teacher_name": teacher_names,
        "school_id": const(school.school_id),
        "school_name": const(school.name),
        "district_id": const(world.district_ids[district]),
        "district_name": const(world.district_names[district]),
        "state_id": const(world.district_states[district]),
        "subject": subject_codes,
        "grade": pa.array(s_grade.astype(np.uint8)),
        "test_id": test_ids,
        "school_year": pa.array(np.full(n, year, dtype=np.uint16)),
        "test_date": pa.array(test_date, type=pa.int32()).cast(pa.date32()),
        "overall_score": pa.array(score),
        "overall_performance_level": pa.array(level),
        "dimension_scores": dimension_scores,
    }
    return pa.Table.from_pydict(columns, schema=INPUT_SCHEMA)


def _interleave_years(tables: list[pa.Table]) -> pa.Table:
    """One table with the years' rows interleaved in proportion (deterministic)."""
    position = np.concatenate([np.arange(t.num_rows) / max(t.num_rows, 1) for t in tables])
    year = np.concatenate([np.full(t.num_rows, i) for i, t in enumerate(tables)])
    return pa.concat_tables(tables).take(pa.array(np.lexsort((year, position))))


def generate(
    spec: GeneratorSpec, batch_rows: int = 500_000, reference: Reference | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield rows ``spec.skip`` to ``spec.rows`` as record batches of at most ``batch_rows`` rows.

    Schools are generated one after the other, the rows of a school's years interleaved, so a
    prefix of the stream covers every school year at any size, and the first N rows of a larger
    spec are exactly the rows of the spec with N rows (what ``skip`` relies on).
    """
    world = World.build(spec, reference or load_reference())
    remaining = spec.rows
    to_skip = spec.skip
    pending: list[pa.Table] = []
    pending_rows = 0
    for school in world.schools:
        if remaining <= 0:
            break
        table = _interleave_years([_school_year_rows(world, school, year) for year in spec.school_years])
        if table.num_rows > remaining:
            table = table.slice(0, remaining)
        remaining -= table.num_rows
        if to_skip:
            dropped = min(to_skip, table.num_rows)
            table, to_skip = table.slice(dropped), to_skip - dropped
        if table.num_rows:
            pending.append(table)
            pending_rows += table.num_rows
        while pending_rows >= batch_rows:
            combined = pa.concat_tables(pending).combine_chunks()
            yield from combined.slice(0, batch_rows).to_batches()
            rest = combined.slice(batch_rows)
            pending, pending_rows = [rest], rest.num_rows
    if pending_rows:
        yield from pa.concat_tables(pending).combine_chunks().to_batches()
    if remaining > 0:  # the world is sized with headroom, so this only guards against bugs
        raise RuntimeError(f"generator world too small: {remaining} rows short")
