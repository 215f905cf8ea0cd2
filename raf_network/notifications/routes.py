"""HTTP routes of notifications: announcements (broadcast), the caller's inbox and push preferences."""
from flask import current_app
from flask.views import MethodView

from raf_network.extensions import Blueprint, limiter
from raf_network.notifications import broadcasts, inbox, preferences
from raf_network.notifications.schemas import (
    BroadcastResultSchema,
    BroadcastSchema,
    InboxQuerySchema,
    InboxSchema,
    NotificationPreferencesSchema,
    NotificationPreferencesUpdateSchema,
)
from raf_network.users.auth import auth_required, current_user

blp = Blueprint("notifications", __name__, url_prefix="/api",
                description="Push notifications: announcements, the inbox and preferences")


def _broadcast_limit():
    return current_app.config["BROADCAST_RATE_LIMIT"]


@blp.route("/notifications/broadcast")
class Broadcast(MethodView):
    @blp.arguments(BroadcastSchema)
    @blp.response(202, BroadcastResultSchema)
    @blp.alt_response(404, description="The audience names a course, timetable entry or user that does not exist")
    @blp.alt_response(422, description="Invalid body or audience")
    @blp.alt_response(429, description="Too many broadcasts; retry later")
    @limiter.limit(_broadcast_limit)
    @auth_required("admin", "faculty_administrator")
    def post(self, body):
        """Announce to an audience (inbox + push); `dry_run` only counts the recipients"""
        return broadcasts.broadcast_create(sender_id=current_user().id, **body)


@blp.route("/notifications")
class Inbox(MethodView):
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxSchema, headers={"X-Unread-Count": {
        "description": "Unread notifications", "schema": {"type": "integer"}}})
    @auth_required()
    def get(self, query):
        """My notifications, newest first, with the unread count"""
        listed = inbox.inbox_list(user=current_user(), **query)
        return listed, {"X-Unread-Count": str(listed["unread_count"])}


@blp.route("/notifications/<int:notification_id>/read")
class InboxRead(MethodView):
    @blp.response(204)
    @blp.alt_response(404, description="Not one of my notifications")
    @auth_required()
    def post(self, notification_id):
        """Mark one of my notifications read"""
        inbox.inbox_mark_read(user_id=current_user().id, notification_id=notification_id)


@blp.route("/notifications/read-all")
class InboxReadAll(MethodView):
    @blp.response(204)
    @auth_required()
    def post(self):
        """Mark all my notifications read"""
        inbox.inbox_mark_all_read(user_id=current_user().id)


@blp.route("/me/notification-preferences")
class Preferences(MethodView):
    @blp.response(200, NotificationPreferencesSchema)
    @auth_required()
    def get(self):
        """My push preferences (categories on/off, quiet hours in Europe/Belgrade)"""
        return preferences.preferences_get(user_id=current_user().id)

    @blp.arguments(NotificationPreferencesUpdateSchema(partial=True))
    @blp.response(200, NotificationPreferencesSchema)
    @auth_required()
    def patch(self, changes):
        """Change some of my push preferences"""
        return preferences.preferences_update(user_id=current_user().id, changes=changes)
