"""HTTP routes of the users blueprint: sign-in and sessions, the caller's profile, devices, timetable
subscriptions, the personal timetable and its iCalendar feed. Every route acts on the caller's own data."""
from flask import Response, current_app, url_for
from flask.views import MethodView

from raf_network.courses.schemas import ScheduleEntrySchema
from raf_network.extensions import Blueprint, failures_throttle, limiter
from raf_network.users import devices, services, timetable
from raf_network.users.auth import auth_required, current_session, current_user, personal_response
from raf_network.users.schemas import (
    CalendarTokenSchema,
    DeviceSchema,
    GoogleLoginSchema,
    LogoutSchema,
    ProfileUpdateSchema,
    RefreshSchema,
    SignInSchema,
    SubscriptionCreateSchema,
    SubscriptionDeleteQuerySchema,
    SubscriptionSchema,
    TokensSchema,
    UserSchema,
)

blp = Blueprint("users", __name__, url_prefix="/api",
                description="Sign-in, your profile, devices, timetable subscriptions and calendar feed")

ERROR = {"schema": "Error"}


def _login_rate_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


# ---- sign-in and sessions ----

@blp.route("/google-login")
class GoogleLogin(MethodView):
    decorators = [limiter.limit(_login_rate_limit)]

    @blp.arguments(GoogleLoginSchema)
    @blp.response(200, SignInSchema)
    @blp.alt_response(401, description="The ID token is invalid, expired, not for this app, or unverified "
                                       "(also while `GOOGLE_CLIENT_IDS` is unset)", **ERROR)
    @blp.alt_response(403, description="The account is disabled", **ERROR)
    @blp.alt_response(429, description="Too many sign-ins from this address (`LOGIN_RATE_LIMIT`), or too many "
                                       "failed ones (`LOGIN_FAILURE_RATE_LIMIT`; `Retry-After`)", **ERROR)
    @blp.alt_response(503, description="Google's signing keys are unreachable (`Retry-After`)", **ERROR)
    @personal_response
    @failures_throttle("LOGIN_FAILURE_RATE_LIMIT", scope="sign-in")
    def post(self, body):
        """Sign in with a Google ID token

        Creates the account on first sign-in (role from the e-mail address: see README). `access_token` is
        accepted and ignored. Returns `token` (what the released app stores) plus a rotating `refresh_token`.
        """
        user, tokens = services.user_sign_in_google(id_token=body["id_token"])
        return {**tokens, "user": user}


@blp.route("/auth/refresh")
class Refresh(MethodView):
    decorators = [limiter.limit(_login_rate_limit)]

    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="Unknown, expired or revoked refresh token; a reused one ends its session",
                      **ERROR)
    @blp.alt_response(429, description="Too many refreshes from this address, or too many failed ones "
                                       "(`Retry-After`)", **ERROR)
    @personal_response
    @failures_throttle("LOGIN_FAILURE_RATE_LIMIT", scope="refresh")
    def post(self, body):
        """Exchange a refresh token for a new access token and refresh token"""
        return services.session_refresh(refresh_token=body["refresh_token"])


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.arguments(LogoutSchema, required=False)
    @blp.response(204)
    @auth_required()
    def post(self, body):
        """Sign out: revoke this session and remove its device

        The access token and every refresh token of the session stop working. The device given as
        `device_token` (or else the one this session registered) no longer receives pushes.
        """
        services.session_end(user=current_user(), auth_session=current_session(),
                             device_token=(body or {}).get("device_token"))


# ---- the caller ----

@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    @auth_required()
    def get(self):
        """Who am I"""
        return current_user()

    @blp.arguments(ProfileUpdateSchema(partial=True))
    @blp.response(200, UserSchema)
    @blp.alt_response(422, description="Invalid value, or a field that cannot be changed", **ERROR)
    @auth_required()
    def patch(self, changes):
        """Edit my profile (first_name, last_name, phone, bio, links, locale)"""
        return services.user_update(user=current_user(), changes=changes)

    @blp.response(204)
    @auth_required()
    def delete(self):
        """Delete my account and everything personal (devices, subscriptions, sessions)"""
        services.user_delete(user_id=current_user().id)


@blp.route("/me/schedule")
class MySchedule(MethodView):
    @blp.response(200, ScheduleEntrySchema(many=True))
    @auth_required()
    def get(self):
        """My timetable: the entries I am subscribed to, in timetable order"""
        return timetable.user_schedule_list(user=current_user())


@blp.route("/me/calendar-token")
class CalendarToken(MethodView):
    @blp.response(201, CalendarTokenSchema)
    @auth_required()
    def post(self):
        """Create (or rotate) my secret iCalendar feed URL; the previous URL stops working"""
        secret = timetable.calendar_token_rotate(user=current_user())
        return {"url": url_for("users.CalendarFeed", secret=secret, _external=True)}


@blp.route("/calendar/<string:secret>.ics")
class CalendarFeed(MethodView):
    @blp.response(200, {"type": "string"}, content_type="text/calendar",
                  description="iCalendar (RFC 5545) feed: weekly events for the semester")
    @blp.alt_response(404, description="No calendar has this secret", **ERROR)
    def get(self, secret):
        """My timetable as an iCalendar feed (no bearer token: the secret in the URL is the credential)"""
        body = timetable.calendar_feed(secret=secret)
        return Response(body, mimetype="text/calendar", headers={
            "Cache-Control": "private, max-age=900",
            "Content-Disposition": 'inline; filename="raf-timetable.ics"',
        })


# ---- devices ----

@blp.route("/devices")
class Devices(MethodView):
    @blp.response(200, DeviceSchema(many=True))
    @auth_required()
    def get(self):
        """My devices, most recently seen first"""
        return devices.device_list(user=current_user())

    @blp.arguments(DeviceSchema)
    @blp.response(201, DeviceSchema)
    @blp.alt_response(200, schema=DeviceSchema, description="The device was already yours: refreshed")
    @auth_required()
    def post(self, body):
        """Register this device for pushes (or refresh it)

        201 when the token is new to you (also when it moves from another account: a phone has one owner),
        200 when you had registered it already. Over the per-user cap, the least recently seen device goes.
        """
        device, created = devices.device_register(user=current_user(), auth_session=current_session(), **body)
        return device, 201 if created else 200


# `path`, not `string`: a token stored before tokens were validated may hold a '/', and must stay deletable.
@blp.route("/devices/<path:token>")
class DeviceDetail(MethodView):
    @blp.response(204)
    @blp.alt_response(404, description="You have no device with this token", **ERROR)
    @auth_required()
    def delete(self, token):
        """Remove one of my devices"""
        devices.device_delete(user=current_user(), token=token)


# ---- timetable subscriptions (the released app's calls) ----

@blp.route("/course-schedule-student-subscriptions")
class Subscriptions(MethodView):
    @blp.response(200, SubscriptionSchema(many=True))
    @auth_required()
    def get(self):
        """My timetable subscriptions, in timetable order"""
        return timetable.subscription_list(user=current_user())

    @blp.arguments(SubscriptionCreateSchema)
    @blp.response(201, SubscriptionSchema)
    @blp.alt_response(200, schema=SubscriptionSchema, description="Already subscribed: the existing subscription")
    @blp.alt_response(404, description="No such timetable entry (or it was removed)", **ERROR)
    @auth_required()
    def post(self, body):
        """Subscribe to a timetable entry (201 new, 200 already subscribed)"""
        subscription, created = timetable.subscription_create(user=current_user(),
                                                             entry_id=body["course_schedule_entry"])
        return subscription, 201 if created else 200

    @blp.arguments(SubscriptionDeleteQuerySchema, location="query")
    @blp.response(204)
    @blp.alt_response(404, description="You have no subscription with this id", **ERROR)
    @auth_required()
    def delete(self, query):
        """Unsubscribe (the released app's form: `?course_schedule_student_subscription=<id>`)"""
        timetable.subscription_delete(user=current_user(),
                                     subscription_id=query["course_schedule_student_subscription"])


@blp.route("/course-schedule-student-subscriptions/<int:subscription_id>")
class SubscriptionDetail(MethodView):
    @blp.response(204)
    @blp.alt_response(404, description="You have no subscription with this id", **ERROR)
    @auth_required()
    def delete(self, subscription_id):
        """Unsubscribe"""
        timetable.subscription_delete(user=current_user(), subscription_id=subscription_id)
