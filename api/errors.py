"""Errors of every package mapped to HTTP answers, in one place.

An API client gets a problem document (RFC 9457, ``application/problem+json``).  A
browser that asks for a page (``Accept: text/html``) gets the same status as an HTML
page in Chinese (``api/templates/error.html``), and when it is not signed in, or its
session ended, a redirect to the sign-in page that comes back afterwards; an htmx
request (``HX-Request``) gets the message as a flash fragment swapped into ``#flash``,
or ``HX-Redirect`` to the sign-in page.
"""

from __future__ import annotations

import json
import logging
import math
import re
import traceback
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import SESSION_COOKIE
from api.pages.render import render
from api.services.accounts import CredentialInUrl
from gis.db.engine import describe_error
from gis.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    WanggeError,
)

PROBLEM = "application/problem+json"

log = logging.getLogger("wangge.errors")


class ProblemResponse(JSONResponse):
    r"""A problem+json answer that can carry any text, even text that UTF-8 cannot encode.

    A message may quote what the caller sent; a lone surrogate in it (from a JSON
    ``"\ud800"``) is written as its JSON escape instead of failing the answer.
    """

    media_type = PROBLEM

    def render(self, content: object) -> bytes:
        r"""The body as UTF-8 JSON, unencodable characters as ``\uXXXX`` escapes."""
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return ProblemResponse(body, status_code=status)


def _plain_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """The errors of a refused request, fit to send back: where, what and the error type.

    The input itself is not echoed: it may be large, binary, or text UTF-8 cannot
    encode, and the caller has it.
    """
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


#: Each kind of error (:mod:`gis.errors`) and its answer: status and title.  An error's
#: own ``title`` (e.g. "Changed meanwhile") replaces the kind's.
STATUS: dict[type[WanggeError], tuple[int, str]] = {
    CredentialInUrl: (400, "Credential in the URL"),
    InvalidInput: (422, "Invalid input"),
    TooLarge: (413, "Too large"),
    TooManyRequests: (429, "Too many requests"),
    NotFound: (404, "Not found"),
    Forbidden: (403, "Not allowed"),
    Conflict: (409, "Conflict"),
    Unavailable: (503, "Service unavailable"),
    Unauthorized: (401, "Not signed in"),
}


#: The titles of the statuses, in Chinese, for pages.
TITLES_ZH = {
    400: "请求有误",
    401: "未登录",
    403: "无权操作",
    404: "未找到",
    409: "操作冲突",
    413: "内容过大",
    422: "输入有误",
    429: "请求过于频繁",
    500: "内部错误",
    503: "服务暂不可用",
}


#: The forms' fields, as their labels name them (what a person filled in).
FIELDS_ZH = {
    "category_code": "问题类别",
    "description": "问题描述",
    "lon": "位置（经度）",
    "lat": "位置（纬度）",
    "contact_phone": "联系电话",
    "contact_name": "联系人",
    "photos": "照片",
    "rating": "评价",
    "comment": "评价意见",
    "title": "标题",
    "body": "内容",
    "name": "姓名",
    "phone": "电话",
    "username": "用户名",
    "password": "密码",
    "reason": "原因",
    "note": "说明",
    "role": "角色",
    "area": "辖区",
    "worker_id": "网格员",
    "assignee_id": "处置人",
    "community": "社区",
    "community_id": "社区",
    "grid_code": "网格",
    "birth_year": "出生年份",
    "id_number": "身份证号",
    "sex": "性别",
    "relation": "与户主关系",
    "file": "文件",
    "kind": "类型",
}


#: What pydantic's error types say, in Chinese (``{…}``: the error's context).
SAID_ZH = {
    "missing": "必填",
    "string_too_long": "最多 {max_length} 个字",
    "string_too_short": "至少 {min_length} 个字",
    "too_long": "最多 {max_length} 项",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "finite_number": "须为数字",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "须小于 {lt}",
    "literal_error": "不在可选范围内，请从列表中选择",
    "enum": "不在可选范围内，请从列表中选择",
    "string_pattern_mismatch": "格式不对",
}


def _error_zh(error: Mapping[str, Any]) -> str:
    """One refused value said in Chinese: which field, what is wrong (pydantic's type)."""
    loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
    name = next((p for p in reversed(loc) if p not in ("body", "query", "path")), "")
    field = FIELDS_ZH.get(name, name)
    kind = str(error.get("type", ""))
    if kind == "too_long" and isinstance(error.get("input"), str):
        kind = "string_too_long"  # a form's text too long is "too_long", as a list is
    try:
        said = SAID_ZH[kind].format(**(error.get("ctx") or {}))
    except KeyError:  # our own validators' words (a NUL character …), as they are
        said = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{field}：{said}" if field else said


def errors_zh(errors: Sequence[Mapping[str, Any]]) -> str:
    """A form's refused values, for the page that tells the person (每项一句，分号隔开)."""
    return "；".join(dict.fromkeys(_error_zh(e) for e in errors))


#: The residents' pages (居民端).
RESIDENT_PAGES = ("/r/",)
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
#: What a resident is told, for the refusals whose English says nothing a resident needs
#: (ids, rules); the others (a conflict, a value refused) keep their own words.
RESIDENT_DETAILS_ZH = {
    403: "您无权查看或办理此事项。",
    404: "未找到该事项，或它不是您反映的。请核对后再试。",
    413: "上传的内容过大，请压缩照片或减少数量后再试。",
    429: "操作过于频繁，请稍后再试。",
}


def wants_page(request: Request) -> bool:
    """Whether the caller is a browser asking for a page (or htmx for a fragment)."""
    return bool(request.headers.get("hx-request")) or "text/html" in request.headers.get(
        "accept", ""
    )


def _sign_in_again(request: Request) -> Response:
    """Send a browser to the sign-in page, to come back to where it was."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": back}
    if getattr(request.state, "session_ended", False):
        query["ended"] = "1"
    target = f"/login?{urlencode(query)}"
    response: Response
    if request.headers.get("hx-request"):
        response = Response(status_code=401, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE)
    return response


def page_answer(request: Request, status: int, detail: str) -> Response:
    """The answer to a browser: the sign-in page for 401, otherwise the error page.

    An htmx request gets the message as a flash fragment retargeted to ``#flash`` (or,
    not signed in, ``HX-Redirect`` to the sign-in page).
    """
    if status == 401 and (request.method in ("GET", "HEAD") or request.headers.get("hx-request")):
        return _sign_in_again(request)
    title = TITLES_ZH.get(status, "出错了")
    if (
        request.url.path.startswith(RESIDENT_PAGES)
        and status in RESIDENT_DETAILS_ZH
        and not _CHINESE.search(detail)
    ):  # a resident reads Chinese; the services' refusals name ids and rules, for staff
        detail = RESIDENT_DETAILS_ZH[status]
    user = getattr(request.state, "user", None)
    if request.headers.get("hx-request"):
        message = {"level": "error", "text": f"{title}：{detail}"}
        return render(
            request,
            "_flash.html",
            {"flashes": [message]},
            user=user,
            status_code=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    context = {"status": status, "title": title, "detail": detail}
    return render(request, "error.html", context, user=user, status_code=status)


def answer(exc: WanggeError) -> JSONResponse:
    """The problem answer to one of our errors, by its kind."""
    kind = next(k for k in type(exc).__mro__ if k in STATUS)
    status, title = STATUS[kind]  # type: ignore[index]
    extra: dict[str, object] = {}
    problems = getattr(exc, "problems", ())
    if problems:
        extra["problems"] = [
            {
                "layer": p.layer,
                "row": p.row,
                "id": p.record_id,
                "field": p.field,
                "message": p.message,
                "fix": p.fix,
            }
            for p in problems
        ]
    current = getattr(exc, "current", None)
    if current is not None:  # a case that moved on: what it is now (a queued action's conflict)
        extra["current"] = current
    response = problem(status, exc.title or title, str(exc), **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return response


def respond(request: Request, exc: WanggeError) -> Response:
    """The answer to one of our errors: a page for a browser, else the problem document."""
    json_answer = answer(exc)
    if wants_page(request):
        page = page_answer(request, json_answer.status_code, str(exc))
        if "Retry-After" in json_answer.headers:
            page.headers["Retry-After"] = json_answer.headers["Retry-After"]
        return page
    return json_answer


def install(app: FastAPI) -> None:
    """Register the handlers that turn our exceptions into problem responses."""

    @app.exception_handler(WanggeError)
    async def _ours(request: Request, exc: WanggeError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> Response:
        if wants_page(request):  # a person at a form: what to correct, in Chinese
            return page_answer(request, 422, errors_zh(exc.errors()))
        errors = _plain_errors(exc)
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", details, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_page(request):
            unknown = exc.status_code == 404 and exc.detail == "Not Found"
            detail = f"没有这个页面：{request.url.path}" if unknown else str(exc.detail)
            return page_answer(request, exc.status_code, detail)
        titles = {404: "Not found", 422: "Invalid request", 503: "Service unavailable"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(OperationalError)
    # psycopg's own where SQLAlchemy does not wrap it (a connection lost as a
    # transaction begins: gis.db.principal)
    @app.exception_handler(psycopg.OperationalError)
    async def _database(request: Request, exc: Exception) -> Response:
        if wants_page(request):
            return page_answer(request, 503, "数据库暂不可用，请稍后再试")
        return problem(503, "Database unavailable", str(exc).splitlines()[0])

    @app.exception_handler(StatementError)
    @app.exception_handler(psycopg.Error)
    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        # Handled here rather than left to the server, whose log would print the error's
        # message: the row's values (a reporter's name and phone) and the statement.
        what = describe_error(exc)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("database error in %s %s: %s\n%s", request.method, request.url.path, what, frames)
        return problem(500, "Internal error", f"the database refused the request ({what})")
