"""The report API over HTTP: FastAPI routes, HTTP Basic users, errors as JSON.

FastAPI (on Starlette, served by uvicorn) because it derives the OpenAPI document from the same
typed signatures that validate the parameters (a malformed one is a 422 before any lookup), it
is the most used Python API stack, and its synchronous routes run in a thread pool, where the
answers come from memory (api/cache.py) or from one engine lookup.

Users are those of ``scores serve`` (endpoint/users.py): a ``roster`` user reads with its roster
role and scope (loaders/roles.py), ``readonly`` and ``readwrite`` users read as engineers.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel

from api import reports
from api.schemas import (
    BuildState,
    ClassroomReport,
    Error,
    MyClassrooms,
    SchoolGradesReport,
    SchoolsListing,
    StateDistrictsReport,
    StudentsReport,
    TestsListing,
)
from api.service import EngineUnavailableError, ForbiddenError, NotFoundError, Reports, Viewer
from endpoint.users import ROSTER_ROLE, Users
from loaders.roles import ENGINEER

Year = Annotated[int, Path(ge=1900, le=2200, description="School year, named by the year it ends in")]
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="An id as the scores carry it")]


PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class KeyedRoute:
    """A report answered by its key: the path's parameters, in order."""

    name: str  # the route's function name (the OpenAPI operation id is made from it)
    report: str
    path: str
    model: type[BaseModel]
    summary: str


REPORT_ROUTES = (
    KeyedRoute(
        "classroom",
        reports.CLASSROOM,
        "/v1/classrooms/{school_year}/{teacher_id}/{test_id}",
        ClassroomReport,
        "The classroom report of a teacher on a test (the design's Query 1)",
    ),
    KeyedRoute(
        "students",
        reports.STUDENTS,
        "/v1/classrooms/{school_year}/{teacher_id}/{test_id}/students",
        StudentsReport,
        "A classroom's students, each beside the classroom, school-grade and district-grade "
        "averages (Query 4)",
    ),
    KeyedRoute(
        "school_grades",
        reports.SCHOOL_GRADES,
        "/v1/schools/{school_year}/{school_id}/{test_id}/grades",
        SchoolGradesReport,
        "A school by grade on a test (Query 2)",
    ),
    KeyedRoute(
        "state_districts",
        reports.STATE_DISTRICTS,
        "/v1/states/{school_year}/{state_id}/districts",
        StateDistrictsReport,
        "The districts of a state, best average first (Query 3)",
    ),
)
# listed after /v1/me/classrooms in the OpenAPI document
LISTING_ROUTES = (
    KeyedRoute(
        "tests",
        reports.TESTS,
        "/v1/school-years/{school_year}/tests",
        TestsListing,
        "The tests of a school year",
    ),
    KeyedRoute(
        "district_schools",
        reports.DISTRICT_SCHOOLS,
        "/v1/districts/{school_year}/{district_id}/schools",
        SchoolsListing,
        "The schools of a district",
    ),
)

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

    def answer(who: Viewer, report: str, *key: int | str) -> Response:
        return reply(service.answer(who, report, key))

    def add(routes: tuple[KeyedRoute, ...]) -> None:
        for route in routes:
            get = app.get(route.path, response_model=route.model, responses=ERRORS, summary=route.summary)
            get(_keyed_endpoint(route, Who, answer))

    add(REPORT_ROUTES)

    @app.get("/v1/me/classrooms", response_model=MyClassrooms, responses=ERRORS, summary="My classrooms")
    def my_classrooms(who: Who) -> Response:
        return reply(service.my_classrooms(who))

    add(LISTING_ROUTES)
    return app


def _keyed_endpoint(route: KeyedRoute, who: Any, answer: Callable[..., Response]) -> Callable[..., Response]:
    """The route's function: its path parameters (validated as Year or Id) and the viewer, as
    FastAPI reads them from its signature; it answers the report of that key."""
    names = PATH_PARAMETER.findall(route.path)

    def endpoint(**arguments: Any) -> Response:
        return answer(arguments["who"], route.report, *(arguments[name] for name in names))

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter(name, keyword, annotation=Year if name == "school_year" else Id) for name in names
    ]
    parameters.append(inspect.Parameter("who", keyword, annotation=who))
    endpoint.__name__ = route.name
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=Response)  # type: ignore[attr-defined]
    return endpoint
