"""No credential in a URL: requests that carry one are refused, and logs never show one.

A URL travels further than a header: into the access log, the browser's history, a
``Referer`` sent to another site, a screenshot.  So a token is read only from
``Authorization: Bearer`` (the API, GDAL) or the session cookie (pages), and a request
whose query names one of :data:`CREDENTIAL_PARAMS` is answered 400 before any route
runs, saying how to sign in instead (:class:`RefuseUrlCredentials`).  The one exception
is Open311 (:data:`URL_KEY_PATHS`), whose standard passes ``api_key`` as a parameter.

Whatever arrives in a URL anyway (refused, or Open311's) is blanked to ``***`` in the
access log of uvicorn and in any other log line that quotes the URL
(:class:`RedactCredentials`, on every handler: :func:`redact_logs`); so are search texts
(:data:`SEARCH_PARAMS`: a name or a phone typed into the registry's search), ID numbers
and mobile phone numbers however their digits are grouped.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.auth import SESSION_COOKIE
from api.services.accounts import CredentialInUrl

#: Query parameters that carry a credential; compared without regard to case.  The session
#: cookie's name too: a session pasted into a URL is refused and never logged like a token.
CREDENTIAL_PARAMS = frozenset({"api_key", "token", "access_token", SESSION_COOKIE})
#: Where a credential in the query is part of the standard and still taken: Open311.
URL_KEY_PATHS = ("/open311/",)


def _pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def credentials_in(query: str) -> list[str]:
    """The names of the credential parameters in a query string (as sent), in order."""
    return [key for key, _ in _pairs(query) if key.lower() in CREDENTIAL_PARAMS]


#: Query parameters whose value is a search text: a name, a phone, an ID number or an
#: address as typed (``/api/registry?q=陈丽美``), blanked in the logs like a credential.
SEARCH_PARAMS = frozenset({"q"})
_BLANKED = CREDENTIAL_PARAMS | SEARCH_PARAMS


def redact_query(target: str) -> str:
    """A request target (path and query) with the values of credentials and searches blanked."""
    path, mark, query = target.partition("?")
    pairs = _pairs(query) if mark else []
    if not any(key.lower() in _BLANKED for key, _ in pairs):
        return target
    kept = [(key, "***" if key.lower() in _BLANKED else value) for key, value in pairs]
    return f"{path}?{urlencode(kept, safe='*')}"


#: A credential or search parameter in any text (a URL in a log message): its name kept,
#: its value blanked.
_IN_TEXT = re.compile(r"([?&](?:" + "|".join(sorted(_BLANKED)) + r")=)[^&\s\"'#]*", re.IGNORECASE)


def redact_text(message: str) -> str:
    """A text with the value of every credential parameter of a URL in it blanked."""
    return _IN_TEXT.sub(r"\1***", message)


#: What may stand between the digits of a number as people write them: a space, a dash, a
#: dot, and the same encoded in a URL (``+``, ``%20``, ``%2D``).
_SEP = r"(?:[ .+\-]|%20|%2[dD])?"
#: An ID number (18 characters) or a mobile phone (with +86 or 86 before it, or not), its
#: digits together or in the groups people write (``138 1234 5678``, ``138-1234-5678``,
#: ``330106 19570517 1700``), in a request target or a message: personal data, blanked in
#: the logs like a token.
_PERSONAL = re.compile(
    rf"(?<![0-9])(?:[0-9]{{6}}{_SEP}[0-9]{{8}}{_SEP}[0-9]{{3}}[0-9Xx]"
    rf"|(?:(?:\+|%2[bB])?86{_SEP})?1[3-9][0-9]{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}})(?![0-9])"
)


def redact_personal(message: str) -> str:
    """A text with every ID number and mobile phone number in it blanked."""
    return _PERSONAL.sub("***", message)


class RedactCredentials(logging.Filter):
    """Blanks credentials in log records: uvicorn's request line, and any URL in a message.

    On uvicorn's access log the request target (``client, method, target, …``) is
    rewritten in place; any other record whose text holds ``?api_key=…`` (or ``&token=``
    …) has its message replaced by the redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record; never drop it."""
        args = record.args
        if record.name == "uvicorn.access":  # its formatter reads the arguments: keep them
            if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
                record.args = (*args[:2], redact_personal(redact_query(args[2])), *args[3:])
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a record that cannot be formatted: left as it is
            return True
        redacted = redact_personal(redact_text(message))
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact(target: logging.Logger | logging.Handler) -> None:
    if not any(isinstance(f, RedactCredentials) for f in target.filters):
        target.addFilter(RedactCredentials())


def redact_access_log() -> None:
    """Put :class:`RedactCredentials` on uvicorn's access log (once), before it is set up."""
    _redact(logging.getLogger("uvicorn.access"))


def redact_logs() -> None:
    """Put :class:`RedactCredentials` on every handler configured now (once each).

    Called when the application starts, after the server configured its logging: a
    handler's filter sees the records of every logger that reaches it (ours, uvicorn's,
    the libraries'), so no logger writes a credential of a URL.
    """
    redact_access_log()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            _redact(handler)


def refusal(names: list[str]) -> CredentialInUrl:
    """The error that answers a request with credentials in its URL (it never names them)."""
    sent = ", ".join(f"'{name}'" for name in dict.fromkeys(names))
    return CredentialInUrl(
        f"凭据不能放在网址中，请在 /login 登录后访问 (a credential was sent in the URL as {sent}: "
        "URLs are kept in logs, browser history and Referer headers, so it is refused, not "
        "used. In a browser, sign in at /login (the session cookie signs in every page); "
        "from a program or GDAL, send the header 'Authorization: Bearer <token>'. Only "
        "Open311 takes api_key.)"
    )


class RefuseUrlCredentials:
    """ASGI middleware: a request with a credential in its query is answered 400.

    Outside Open311 (:data:`URL_KEY_PATHS`).  It runs before routing, so it covers every
    route, page, mount and static file alike; the answer is the usual problem document
    or, to a browser, the error page (:func:`api.errors.respond`), and shows nothing else.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, or pass it on untouched."""
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith(URL_KEY_PATHS):
            query = scope.get("query_string", b"").decode("latin-1")
            names = credentials_in(query) if query else []
            if names:
                request = Request(scope, receive)
                response = errors.respond(request, refusal(names))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
