"""Structured JSON logs with the request id, and the request id itself (``X-Request-ID``)."""
import json
import logging
import re
import sys
import uuid

from flask import g, has_request_context, request

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is None and has_request_context():
            request_id = g.get("request_id")
        if request_id:
            entry["request_id"] = request_id
        job_id = getattr(record, "job_id", None)
        if job_id:
            entry["job_id"] = job_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_configure(app):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # Replace (not add to) our own handler on repeated app creation, e.g. in tests.
    for existing in list(root.handlers):
        if getattr(existing, "_raf_network", False):
            root.removeHandler(existing)
    handler._raf_network = True
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
