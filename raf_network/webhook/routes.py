"""HTTP routes of the webhook blueprint: the course service's deliveries, and their log for administrators."""
from flask import current_app, request
from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema
from werkzeug.exceptions import RequestEntityTooLarge

from raf_network.errors import ApiError
from raf_network.extensions import Blueprint, limiter
from raf_network.schemas import PAGINATION_HEADER_DOC, pagination_header
from raf_network.users.auth import auth_required
from raf_network.webhook import services
from raf_network.webhook.schemas import (
    DeliveryDetailSchema,
    DeliveryOutcomeSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    EnvelopeSchema,
)

blp = Blueprint("webhook", __name__, url_prefix="/api",
                description="Signed course data from the course service (Standard Webhooks), and its delivery log")

SIGNATURE_HEADERS = [
    {"in": "header", "name": "webhook-id", "required": True, "schema": {"type": "string"},
     "description": "Unique per delivery; a webhook-id already applied is answered 200 `duplicate`"},
    {"in": "header", "name": "webhook-timestamp", "required": True, "schema": {"type": "integer"},
     "description": "Unix seconds; more than 5 minutes off → 401"},
    {"in": "header", "name": "webhook-signature", "required": True, "schema": {"type": "string"},
     "description": "Space-separated `v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">`"},
]


def _webhook_rate_limit():
    return current_app.config["WEBHOOK_RATE_LIMIT"]


@blp.route("/webhooks/courses")
class CourseWebhook(MethodView):
    decorators = [limiter.limit(_webhook_rate_limit)]

    @blp.doc(parameters=SIGNATURE_HEADERS, requestBody={
        "required": True, "content": {"application/json": {"schema": EnvelopeSchema}}})
    @blp.response(200, DeliveryOutcomeSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="The body is not UTF-8 JSON, or nests deeper than 64 "
                                                           "levels, repeats a key, or holds NaN or a lone surrogate")
    @blp.alt_response(401, schema=ErrorSchema, description="Missing or invalid signature, or stale timestamp")
    @blp.alt_response(409, schema=ErrorSchema, description="Out of order, or a snapshot removing too much")
    @blp.alt_response(413, schema=ErrorSchema, description="Body larger than WEBHOOK_MAX_BODY")
    @blp.alt_response(415, schema=ErrorSchema, description="Content-Type is not application/json")
    @blp.alt_response(422, schema=ErrorSchema, description="Invalid payload; `errors` keyed by path")
    @blp.alt_response(429, schema=ErrorSchema, description="Rate limit (WEBHOOK_RATE_LIMIT) exceeded")
    @blp.alt_response(503, schema=ErrorSchema, description="WEBHOOK_SECRET is not configured")
    def post(self):
        """Receive course data (courses.snapshot or courses.delta)

        Verified, recorded and applied in one transaction; what changed is invalidated in the cache and
        handed to the notification pipeline after commit. Re-sending a webhook-id already applied changes
        nothing and answers 200 with `status: duplicate` and the original delivery's outcome.
        """
        return services.delivery_receive(
            webhook_id=request.headers.get("webhook-id", ""),
            timestamp=request.headers.get("webhook-timestamp", ""),
            signatures=request.headers.get("webhook-signature", ""),
            body=_raw_body(), source_address=request.remote_addr,
        )


def _raw_body():
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(f"Content-Type must be application/json, not {request.mimetype or 'missing'!r}", code=415)
    limit = current_app.config["WEBHOOK_MAX_BODY"]
    request.max_content_length = limit  # the webhook's own limit, not MAX_CONTENT_LENGTH
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise ApiError(f"the body is larger than WEBHOOK_MAX_BODY ({limit} bytes)", code=413) from None


@blp.route("/webhooks/deliveries")
class Deliveries(MethodView):
    @blp.arguments(DeliveryQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, DeliverySchema(many=True), headers=PAGINATION_HEADER_DOC)
    @auth_required("admin", "faculty_administrator")
    def get(self, page, page_size, **filters):
        """Webhook deliveries, newest first, optionally filtered (paginated; see the X-Pagination header)

        Filters combine with AND: outcome (`status`), payload `type`, the UTC days received (`received_from`,
        `received_to`, both inclusive) and a part of the `webhook_id` (case-insensitive).
        """
        deliveries, total = services.delivery_list(page=page, page_size=page_size, **filters)
        return deliveries, pagination_header(page=page, page_size=page_size, total=total)


@blp.route("/webhooks/deliveries/<int:delivery_id>")
class DeliveryDetail(MethodView):
    @blp.response(200, DeliveryDetailSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such delivery")
    @auth_required("admin", "faculty_administrator")
    def get(self, delivery_id):
        """One webhook delivery, with its change set, error and raw body"""
        return services.delivery_get(delivery_id=delivery_id)
