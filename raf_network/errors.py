"""The one error format — flask-smorest's ``{code, status, message, errors}`` — for every failure.

Domain code raises ``ApiError`` subclasses (or calls ``abort``); this module turns them, HTTP errors,
database outages and unexpected exceptions into that format. No stack trace ever reaches a client.
"""
import functools
import json
import logging

from flask import current_app, g
from flask_smorest import Api as SmorestApi
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable, UnprocessableEntity

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A domain failure with an HTTP status. ``errors`` locates field problems like marshmallow does."""

    code = 400

    def __init__(self, message, *, errors=None, code=None, headers=None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        if code is not None:
            self.code = code


class NotFound(ApiError):
    code = 404


class Conflict(ApiError):
    code = 409


class Unauthorized(ApiError):
    code = 401


class Forbidden(ApiError):
    code = 403


class ValidationFailed(ApiError):
    code = 422


class Api(SmorestApi):
    """flask-smorest's Api, with a message on every error and JSON for errors Flask raises itself."""

    def handle_http_exception(self, error):
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        # HTTP exceptions raised by Werkzeug (405) carry headers of their own (Allow).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                headers.setdefault(name, value)
        return payload, code, headers


def register_errorhandlers(app, api):
    """Every failure in the one format: domain errors (``ApiError``), values the database refused, the database
    being unreachable, and anything unexpected (a 500 with the request id; the trace goes to the log only). HTTP
    errors raised by Flask and werkzeug are ``api``'s own (flask-smorest registers them at ``init_app``)."""

    @app.errorhandler(ApiError)
    def handle_api_error(error):
        payload = {"code": error.code, "status": _status_name(error.code), "message": error.message}
        if error.errors is not None:
            payload["errors"] = error.errors
        return payload, error.code, error.headers

    @app.errorhandler(DataError)
    def handle_data_error(error):
        # A value the database cannot hold (out of range, NUL byte) slipped past validation: it is still the
        # client's input, so 422 rather than 500. Validation should have caught it.
        log.warning("database rejected a value: %s", str(error.orig).splitlines()[0])
        _session_discard()
        return api.handle_http_exception(UnprocessableEntity(
            "A value is out of range or contains characters that cannot be stored."))

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def handle_database_error(error):
        # Connection refused, server restarting, pool exhausted: the client may retry.
        if isinstance(error, DBAPIError) and not (error.connection_invalidated or isinstance(error, OperationalError)):
            return api.handle_http_exception(_internal_error(error))
        log.warning("database unavailable: %s", error.__class__.__name__)
        _session_discard()
        payload, code, headers = api.handle_http_exception(
            ServiceUnavailable("The database is unavailable; retry shortly."))
        headers["Retry-After"] = "5"
        return payload, code, headers

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        return api.handle_http_exception(_internal_error(error))


def _session_discard():
    """Drop the failed transaction; with the server gone, even the rollback may fail — that is fine."""
    try:
        current_app.extensions["sqlalchemy"].session.rollback()
    except Exception:  # the connection is already dead; the pool invalidates it
        log.debug("rollback after a database outage failed", exc_info=True)


def _internal_error(error):
    request_id = getattr(g, "request_id", "-")
    log.error("unhandled exception (request id %s)", request_id, exc_info=error)
    return InternalServerError(
        f"An unexpected error occurred; it has been logged with request id {request_id}."
    )


def _status_name(code):
    from werkzeug.http import HTTP_STATUS_CODES

    return HTTP_STATUS_CODES.get(code, "Error")


def cli_errors(command):
    """For ``flask`` commands: a domain failure (``ApiError``) is its message and located errors on stderr and exit
    status 1 — the operator's view of the one error format — never a traceback."""
    import click

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ApiError as error:
            click.echo(f"error: {error.message}", err=True)
            for line in _error_lines(error.errors or {}):
                click.echo(line, err=True)
            raise SystemExit(1) from None

    return wrapper


def _error_lines(errors):
    """``{"rows": ["line 3: …"], "data.schedule[2].start": ["…"]}`` → indented lines, one problem each."""
    for location, problems in errors.items():
        if isinstance(problems, (list, tuple)) and all(isinstance(problem, str) for problem in problems):
            yield f"  {location}:"
            yield from (f"    {problem}" for problem in problems)
        else:
            yield f"  {location}: {json.dumps(problems, ensure_ascii=False)}"
