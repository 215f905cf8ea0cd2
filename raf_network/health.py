"""Operations endpoints: liveness (`/healthz`), readiness (`/readyz`) and Prometheus `/metrics`."""
import hmac
import logging

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import text

from raf_network.errors import Unauthorized
from raf_network.extensions import Blueprint, db

log = logging.getLogger(__name__)
blp = Blueprint("health", __name__, description="Process health for routers and orchestrators")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())


def readiness_check():
    """Check every backing service; returns ``{name: "ok" | "error: …"}``."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"error: {exc.__class__.__name__}"
    if current_app.config["REDIS_URL"]:
        from raf_network.jobs import redis_connection

        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
    else:
        checks["cache"] = "ok (in-process)"
    return checks


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """The process is up (no dependency is checked)"""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down; `checks` names it")
    def get(self):
        """The database and the cache are reachable"""
        checks = readiness_check()
        down = sorted(name for name, value in checks.items() if not value.startswith("ok"))
        if down:
            log.warning("not ready: %s", ", ".join(down))
            return {"status": "unavailable: " + ", ".join(down), "checks": checks}, 503
        return {"status": "ok", "checks": checks}


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(responses={
        "200": {"description": "Prometheus text exposition",
                "content": {"text/plain": {"schema": {"type": "string"}}}},
        "401": {"description": "METRICS_TOKEN is set and the bearer token does not match",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    })
    def get(self):
        """Prometheus metrics (bearer `METRICS_TOKEN` when configured)"""
        from raf_network.metrics import metrics_exposition

        expected = current_app.config["METRICS_TOKEN"]
        if expected:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise Unauthorized("a valid metrics token is required", headers={"WWW-Authenticate": "Bearer"})
        body, content_type = metrics_exposition()
        return current_app.response_class(body, mimetype=content_type.split(";")[0],
                                          headers={"Content-Type": content_type, "Cache-Control": "no-store"})
