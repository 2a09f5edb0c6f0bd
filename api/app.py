"""The report API over HTTP: FastAPI routes, HTTP Basic users, errors as JSON.

FastAPI (on Starlette, served by uvicorn) because it derives the OpenAPI document from the same
typed signatures that validate the parameters (a malformed one is a 422 before any lookup), it
is the most used Python API stack, and its synchronous routes run in a thread pool, where the
answers come from memory (api/cache.py) or from one engine lookup.

Users are those of ``scores serve`` (endpoint/users.py): a ``roster`` user reads with its roster
role and scope (loaders/roles.py), ``readonly`` and ``readwrite`` users read as engineers.
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel

from api import reports
from api.service import EngineUnavailableError, ForbiddenError, NotFoundError, Reports, Viewer
from endpoint.users import ROSTER_ROLE, Users
from loaders.roles import ENGINEER

Year = Annotated[int, Path(ge=1900, le=2200, description="School year, named by the year it ends in")]
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="An id as the scores carry it")]


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


class ClassroomReport(BaseModel):
    build: str
    school_year: int
    teacher_id: str
    test_id: str
    rows: list[ClassroomRow]


class StudentsReport(BaseModel):
    build: str
    school_year: int
    teacher_id: str
    test_id: str
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


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "no or wrong credentials"},
    403: {"model": Error, "description": "outside the user's scope"},
    404: {"model": Error, "description": "no such key in the current build"},
    503: {"model": Error, "description": "the engine is down or busy"},
}


def create_app(service: Reports, users: Users) -> FastAPI:
    app = FastAPI(
        title="Student scores report API",
        version="1",
        description="The design's reports, small groups suppressed, scoped by the staff roster, "
        "answered from memory per published build.",
    )
    basic = HTTPBasic(auto_error=False)

    def viewer(credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]) -> Viewer:
        user = users.check(credentials.username, credentials.password) if credentials else None
        if user is None:
            raise HTTPException(
                401, "credentials required", headers={"WWW-Authenticate": 'Basic realm="scores"'}
            )
        if user.role != ROSTER_ROLE:
            return Viewer(user.name, ENGINEER)
        entry = service.roster_entry(user.name)
        if entry is None:
            raise HTTPException(403, f"{user.name}: not in the staff roster")
        return Viewer(user.name, entry.role, entry.scope)

    Who = Annotated[Viewer, Depends(viewer)]  # noqa: N806 - a type alias, named like one

    def reply(answer: tuple[bytes, str]) -> Response:
        body, build = answer
        return Response(body, media_type="application/json", headers={"X-Scores-Build": build})

    @app.exception_handler(NotFoundError)
    def not_found(_: Request, ex: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(ex)}, status_code=404)

    @app.exception_handler(ForbiddenError)
    def forbidden(_: Request, ex: ForbiddenError) -> JSONResponse:
        return JSONResponse({"detail": str(ex)}, status_code=403)

    @app.exception_handler(EngineUnavailableError)
    def unavailable(_: Request, ex: EngineUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": f"the warehouse cannot answer now: {ex}"}, status_code=503)

    @app.exception_handler(Exception)
    def internal(_: Request, ex: Exception) -> JSONResponse:  # never a traceback to the client
        return JSONResponse({"detail": f"internal error ({type(ex).__name__})"}, status_code=500)

    @app.get("/v1/build", response_model=BuildState, responses=ERRORS)
    def build(_: Who) -> BuildState:
        generation = service.generation
        answers, size = generation.size
        return BuildState(build=generation.build, changing=service.changing, answers=answers, bytes=size)

    @app.get(
        "/v1/classrooms/{school_year}/{teacher_id}/{test_id}",
        response_model=ClassroomReport,
        responses=ERRORS,
        summary="The classroom report of a teacher on a test (the design's Query 1)",
    )
    def classroom(school_year: Year, teacher_id: Id, test_id: Id, who: Who) -> Response:
        return reply(service.answer(who, reports.CLASSROOM, (school_year, teacher_id, test_id)))

    @app.get(
        "/v1/classrooms/{school_year}/{teacher_id}/{test_id}/students",
        response_model=StudentsReport,
        responses=ERRORS,
        summary="A classroom's students, each beside the classroom, school-grade and district-grade "
        "averages (Query 4)",
    )
    def students(school_year: Year, teacher_id: Id, test_id: Id, who: Who) -> Response:
        return reply(service.answer(who, reports.STUDENTS, (school_year, teacher_id, test_id)))

    @app.get(
        "/v1/schools/{school_year}/{school_id}/{test_id}/grades",
        response_model=SchoolGradesReport,
        responses=ERRORS,
        summary="A school by grade on a test (Query 2)",
    )
    def school_grades(school_year: Year, school_id: Id, test_id: Id, who: Who) -> Response:
        return reply(service.answer(who, reports.SCHOOL_GRADES, (school_year, school_id, test_id)))

    @app.get(
        "/v1/states/{school_year}/{state_id}/districts",
        response_model=StateDistrictsReport,
        responses=ERRORS,
        summary="The districts of a state, best average first (Query 3)",
    )
    def state_districts(school_year: Year, state_id: Id, who: Who) -> Response:
        return reply(service.answer(who, reports.STATE_DISTRICTS, (school_year, state_id)))

    @app.get("/v1/me/classrooms", response_model=MyClassrooms, responses=ERRORS, summary="My classrooms")
    def my_classrooms(who: Who) -> Response:
        return reply(service.my_classrooms(who))

    @app.get(
        "/v1/school-years/{school_year}/tests",
        response_model=TestsListing,
        responses=ERRORS,
        summary="The tests of a school year",
    )
    def tests(school_year: Year, who: Who) -> Response:
        return reply(service.answer(who, reports.TESTS, (school_year,)))

    @app.get(
        "/v1/districts/{school_year}/{district_id}/schools",
        response_model=SchoolsListing,
        responses=ERRORS,
        summary="The schools of a district",
    )
    def district_schools(school_year: Year, district_id: Id, who: Who) -> Response:
        return reply(service.answer(who, reports.DISTRICT_SCHOOLS, (school_year, district_id)))

    return app
