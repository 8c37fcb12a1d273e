"""Logging: one line per request, tagged with a request id; errors with their tracebacks.

    2026-11-23 10:02:03,517 INFO portal.request [5f0c…] GET /results 200 12.4ms

Every record written through the `portal` logger tree (Flask's `app.logger` is `portal`) carries
the id of the request it belongs to, so an error's traceback and its request line can be found
together. The id is the client's (or the proxy's) `X-Request-ID` when that is well-formed, else a
new one; it is sent back in the response's `X-Request-ID` header. Records go to stderr, which
gunicorn and systemd collect.
"""
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from outside: UUIDs, nginx's $request_id (32 hex), and similar tokens. Anything
# else (too long, spaces, control characters) could forge or garble log lines and is replaced.
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}\Z")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

request_log = logging.getLogger("portal.request")


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def request_id_from(header_value: str | None) -> str:
    """The incoming id if it is well-formed, else a fresh one."""
    if header_value and WELL_FORMED_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


def _configure_logger(level: str) -> None:
    """Give the `portal` logger one stderr handler (once per process) at `level`."""
    logger = logging.getLogger("portal")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_portal_handler", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        handler._portal_handler = True
        logger.addHandler(handler)
    # Records that propagate (to pytest's capture, or an operator's root handler) carry the id too.
    if not any(isinstance(f, RequestIdFilter) for f in logger.filters):
        logger.addFilter(RequestIdFilter())


def init_app(app: Flask) -> None:
    _configure_logger(app.config["LOG_LEVEL"])

    @app.before_request
    def _start_request():
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish_request(response):
        request_id = g.get("request_id")
        if request_id is None:  # a request that failed before our first hook ran
            return response
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started", time.perf_counter())
        line = (request.method, request.path, response.status_code)
        if response.is_streamed:
            # A streamed body (CSV exports) is timed when the server has sent all of it.
            response.call_on_close(lambda: _log_line(request_id, *line, started))
        else:
            _log_line(request_id, *line, started)
        return response


def _log_line(request_id: str, method: str, path: str, status: int, started: float) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    request_log.info("%s %s %s %.1fms", method, path, status, duration_ms,
                     extra={"request_id": request_id, "method": method, "path": path, "status": status,
                            "duration_ms": round(duration_ms, 1)})
