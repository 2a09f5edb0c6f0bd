"""The report API's answers as JSON schemas (the OpenAPI document's): the service sends the
bytes it cached (api/cache.py), these models only describe them."""

from pydantic import BaseModel


class Error(BaseModel):
    detail: str


class ClassroomRow(BaseModel):
    teacher_id: str
    teacher_name: str
    test_id: str
    subject: str
    is_suppressed: int
    suppression_label: str
    student_count: int | None
    avg_score: float | None
    median_score: float | None
    excellent_count: int | None
    good_count: int | None
    fair_count: int | None
    needs_improvement_count: int | None


class SchoolGradeRow(BaseModel):
    grade: int
    subject: str
    is_suppressed: int
    suppression_label: str
    student_count: int | None
    avg_score: float | None
    median_score: float | None
    score_stddev: float | None


class DistrictRow(BaseModel):
    district_id: str
    district_name: str
    test_id: str
    subject: str
    is_suppressed: int
    suppression_label: str
    total_students: int | None
    district_avg_score: float | None
    district_median_score: float | None


class StudentRow(BaseModel):
    student_id: str
    overall_score: int
    performance_level: int
    dimension_scores: str
    classroom_avg_score: float | None
    school_grade_avg_score: float | None
    district_grade_avg_score: float | None


class TestRow(BaseModel):
    test_id: str
    subject: str
    classrooms: int


class SchoolRow(BaseModel):
    school_id: str
    school_name: str


class MyClassroomRow(BaseModel):
    school_year: int
    teacher_id: str
    test_id: str
    subject: str
    school_id: str
    district_id: str


class _ClassroomKey(BaseModel):
    build: str
    school_year: int
    teacher_id: str
    test_id: str


class ClassroomReport(_ClassroomKey):
    rows: list[ClassroomRow]


class StudentsReport(_ClassroomKey):
    rows: list[StudentRow]


class SchoolGradesReport(BaseModel):
    build: str
    school_year: int
    school_id: str
    test_id: str
    rows: list[SchoolGradeRow]


class StateDistrictsReport(BaseModel):
    build: str
    school_year: int
    state_id: str
    rows: list[DistrictRow]


class TestsListing(BaseModel):
    build: str
    school_year: int
    rows: list[TestRow]


class SchoolsListing(BaseModel):
    build: str
    school_year: int
    district_id: str
    rows: list[SchoolRow]


class MyClassrooms(BaseModel):
    build: str
    teachers: list[str]
    schools: list[str]
    districts: list[str]
    rows: list[MyClassroomRow]


class BuildState(BaseModel):
    build: str
    changing: bool
    answers: int
    bytes: int
