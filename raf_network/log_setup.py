"""Structured JSON logs with the request id, and the request id itself (``X-Request-ID``)."""
import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar

from flask import g, has_request_context, request

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Set while a background job runs: {"job_id": …, "request_id": the request that enqueued it}.
job_context = ContextVar("job_context", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            # Our stamp first; a logging call's own extra={"job_id": …} (RQ, our jobs) otherwise.
            value = getattr(record, f"raf_{key}", None) or getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _record_factory_install():
    """Stamp every log record with the request id and job id current when it was made."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "raf_network_installed", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        job = job_context.get() or {}
        request_id = job.get("request_id")
        if request_id is None and has_request_context():
            request_id = g.get("request_id")
        # Namespaced: logging refuses extra={...} keys that already exist on the record, and RQ and our
        # jobs log with extra={"job_id": …}.
        record.raf_request_id = request_id
        record.raf_job_id = job.get("job_id")
        return record

    factory.raf_network_installed = True
    logging.setLogRecordFactory(factory)


def logging_configure(app):
    _record_factory_install()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # Replace (not add to) our own handler on repeated app creation, e.g. in tests.
    for existing in list(root.handlers):
        if getattr(existing, "raf_network_installed", False):
            root.removeHandler(existing)
    handler.raf_network_installed = True
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    if app.config["LOG_LEVEL"] != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    app.logger.handlers.clear()
    app.logger.propagate = True


def request_id_assign():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex


def request_id_header(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response
