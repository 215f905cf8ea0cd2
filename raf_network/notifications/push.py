"""The one module that talks to Firebase Cloud Messaging (the only importer of ``firebase_admin``).

``push_send(items)`` sends up to 500 messages in one ``send_each`` call and returns one ``PushResult`` per
item, classified the way FCM's guidance says: the token is dead (remove the device), try again later,
or give up. ``PUSH_BACKEND=log`` records the would-be pushes in ``push_log`` instead of sending.

The firebase App is created on first use, once per process and configuration (never at import).
"""
import json
import logging
import threading
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert

from raf_network.extensions import db

log = logging.getLogger(__name__)

MAX_BATCH = 500  # FCM's limit per send_each call

# Outcomes
SENT = "sent"
INVALID_TOKEN = "invalid_token"  # remove the device
RETRY = "retry"                  # transient: send again later with backoff
FAILED = "failed"                # permanent for this message; keep the device

FCM_HOST = "https://fcm.googleapis.com"
SEND_PATH = "/v1/projects/{0}/messages:send"


@dataclass(frozen=True)
class PushContent:
    """What a user sees, in one locale, plus the data payload the app routes on (string values)."""

    title: str
    body: str
    data: dict
    locale: str
    category: str


@dataclass(frozen=True)
class PushItem:
    token: str
    content: PushContent


@dataclass(frozen=True)
class PushResult:
    outcome: str
    error: str | None = None  # FCM's error code, for the delivery row and the logs


class PushConfigurationError(RuntimeError):
    """The push backend is misconfigured (missing credentials or project id)."""


def push_send(items, *, notification_id):
    """Send ``items`` (at most 500) with the configured backend; one PushResult per item, in order."""
    if len(items) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} messages per send, got {len(items)}")
    if not items:
        return []
    if current_app.config["PUSH_BACKEND"] == "log":
        return _log_send(items, notification_id=notification_id)
    return _fcm_send(items)


# --------------------------------------------------------------------------------------------------
# log backend
# --------------------------------------------------------------------------------------------------

def _log_send(items, *, notification_id):
    """Record instead of sending (in the caller's transaction), so the would-be pushes can be inspected."""
    db.session.execute(insert(_push_log_table()), [
        {"notification_id": notification_id, "token": item.token, "locale": item.content.locale,
         "title": item.content.title, "body": item.content.body, "data": item.content.data}
        for item in items
    ])
    log.info("push backend 'log': recorded %d push(es) of notification %s", len(items), notification_id)
    return [PushResult(SENT)] * len(items)


def _push_log_table():
    from raf_network.notifications.models import PushLog

    return PushLog


# --------------------------------------------------------------------------------------------------
# FCM backend
# --------------------------------------------------------------------------------------------------

_apps = {}
_apps_lock = threading.Lock()


def _fcm_send(items):
    from firebase_admin import exceptions, messaging

    app = _firebase_app()
    configs = {}  # one Notification/Android/APNs config per distinct content, shared by its messages
    messages = []
    for item in items:
        parts = configs.get(id(item.content))
        if parts is None:
            parts = configs[id(item.content)] = _message_parts(item.content)
        # Message(fid=…): `token=` is deprecated since firebase-admin 7.5; the wire format is the same target.
        messages.append(messaging.Message(fid=item.token, **parts))
    try:
        response = messaging.send_each(messages, app=app)
    except exceptions.FirebaseError as exc:
        # The whole batch failed before reaching FCM (e.g. the access token could not be fetched).
        log.warning("FCM batch of %d failed: %s", len(items), exc)
        return [PushResult(RETRY, exc.code)] * len(items)
    return [_result(send_response) for send_response in response.responses]


def _message_parts(content):
    from firebase_admin import messaging

    channel = current_app.config["PUSH_ANDROID_CHANNEL"]
    return {
        "notification": messaging.Notification(title=content.title, body=content.body),
        "data": content.data,
        # A user-visible alert: high priority on Android (a notification channel the app creates),
        # an alert with sound on iOS (apns-priority 10 = deliver now).
        "android": messaging.AndroidConfig(
            priority="high",
            notification=messaging.AndroidNotification(channel_id=channel, sound="default", tag=content.category),
        ),
        "apns": messaging.APNSConfig(
            headers={"apns-priority": "10", "apns-push-type": "alert"},
            payload=messaging.APNSPayload(aps=messaging.Aps(
                alert=messaging.ApsAlert(title=content.title, body=content.body),
                sound="default", thread_id=content.category,
            )),
        ),
    }


def _result(send_response):
    if send_response.success:
        return PushResult(SENT)
    return push_error_classify(send_response.exception)


def push_error_classify(exc):
    """FCM's guidance per error: which ones mean the token is dead, which are worth retrying."""
    from firebase_admin import exceptions, messaging

    if isinstance(exc, (messaging.UnregisteredError, messaging.SenderIdMismatchError)):
        return PushResult(INVALID_TOKEN, _code(exc))
    if isinstance(exc, messaging.ThirdPartyAuthError):
        log.error("FCM THIRD_PARTY_AUTH_ERROR: the APNs/web-push credentials in the Firebase project are "
                  "misconfigured; the device is kept (%s)", exc)
        return PushResult(FAILED, "THIRD_PARTY_AUTH_ERROR")
    if isinstance(exc, exceptions.InvalidArgumentError):
        # INVALID_ARGUMENT is a dead token only when FCM says the registration token is the problem;
        # otherwise our payload is wrong and the device must be kept.
        if _names_invalid_token(exc):
            return PushResult(INVALID_TOKEN, "INVALID_ARGUMENT")
        log.error("FCM rejected a message as invalid (payload problem, device kept): %s", exc)
        return PushResult(FAILED, "INVALID_ARGUMENT")
    if isinstance(exc, (messaging.QuotaExceededError, exceptions.UnavailableError, exceptions.InternalError,
                        exceptions.DeadlineExceededError, exceptions.ResourceExhaustedError)):
        return PushResult(RETRY, _code(exc))
    if isinstance(exc, exceptions.UnknownError) and exc.http_response is None:
        return PushResult(RETRY, "UNKNOWN")  # a network failure: nothing reached FCM
    log.warning("FCM send failed: %s", exc)
    return PushResult(FAILED, _code(exc))


def _code(exc):
    fcm_codes = {"UnregisteredError": "UNREGISTERED", "SenderIdMismatchError": "SENDER_ID_MISMATCH",
                 "QuotaExceededError": "QUOTA_EXCEEDED", "ThirdPartyAuthError": "THIRD_PARTY_AUTH_ERROR"}
    return fcm_codes.get(type(exc).__name__) or getattr(exc, "code", None) or type(exc).__name__


def _names_invalid_token(exc):
    response = getattr(exc, "http_response", None)
    try:
        error = response.json().get("error", {}) if response is not None else {}
    except ValueError:
        error = {}
    for detail in error.get("details") or []:
        for violation in detail.get("fieldViolations") or []:
            if violation.get("field") in ("message.token", "message.fid"):
                return True
    message = (error.get("message") or str(exc)).lower()
    return "registration token" in message and "not a valid" in message


def _firebase_app():
    config = current_app.config
    key = (config["PUSH_BACKEND"], config.get("FIREBASE_CREDENTIALS"), config.get("FIREBASE_PROJECT_ID"),
           config.get("FCM_URL"), config["PUSH_HTTP_CONNECTIONS"], config["PUSH_HTTP_TIMEOUT"])
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            app = _apps[key] = _firebase_app_create(config, name=f"raf-network-{len(_apps)}")
    return app


def _firebase_app_create(config, *, name):
    import firebase_admin
    import requests.adapters
    from firebase_admin import messaging
    from urllib3.util.retry import Retry

    options = {"httpTimeout": config["PUSH_HTTP_TIMEOUT"]}
    if config.get("FIREBASE_PROJECT_ID"):
        options["projectId"] = config["FIREBASE_PROJECT_ID"]
    app = firebase_admin.initialize_app(_credential(config), options, name=name)
    service = messaging._get_messaging_service(app)
    base = (config.get("FCM_URL") or FCM_HOST).rstrip("/")
    if config.get("FCM_URL"):
        # firebase-admin builds its endpoint from _MessagingService.FCM_URL; this instance points elsewhere
        # without changing the class for the rest of the process.
        service._fcm_url = base + SEND_PATH.format(app.project_id)
    # Transient failures are retried per token by our job (RQ Retry with backoff), so the HTTP layer must
    # not also sleep on 500/503 inside send_each's 500 threads; connections are pooled and bounded.
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=config["PUSH_HTTP_CONNECTIONS"], pool_block=True,
        max_retries=Retry(connect=1, read=1, status=0, redirect=0, allowed_methods=None, raise_on_status=False),
    )
    service._client.session.mount(base, adapter)
    log.info("firebase app %s initialised (project %s, endpoint %s)", name, app.project_id, base)
    return app


def _credential(config):
    from firebase_admin import credentials

    raw = config.get("FIREBASE_CREDENTIALS")
    if raw:
        source = json.loads(raw) if raw.lstrip().startswith("{") else raw
        return credentials.Certificate(source)
    if config.get("FCM_URL"):
        return _offline_credential()
    raise PushConfigurationError("PUSH_BACKEND=fcm needs FIREBASE_CREDENTIALS (a file path or the JSON itself)")


def _offline_credential():
    """A stand-in for a local FCM emulator (``FCM_URL`` set, no service account): a static access token."""
    from firebase_admin import credentials
    from google.oauth2.credentials import Credentials

    class OfflineCredential(credentials.Base):
        def __init__(self):
            self._credential = Credentials(token="offline")

        def get_credential(self):
            return self._credential

    return OfflineCredential()
