"""How pushes reach Firebase Cloud Messaging, through FCM's documented HTTP v1 REST API (its HTTP connections:
``fcm_http``).

``push_send(items)`` sends up to 500 messages, ``PUSH_CONCURRENCY`` at a time on a thread pool kept for the
process, and returns one ``PushResult`` per item once all of them are answered, classified the way FCM's error
reference says: the token is dead (remove the device), try again later, or give up. ``PUSH_BACKEND=log`` records
the would-be pushes in ``push_log`` instead of sending.

Why the REST API and not firebase-admin's ``messaging.send_each``: a fan-out is CPU-bound, and ``send_each`` (one
requests/google-auth call per message on a new 500-thread pool per batch) costs several times the CPU per
message of this sender, which puts 10,000 devices well past the 10 s target on one worker (measured:
docs/benchmarks.md, "Push sender: firebase-admin vs the REST API"); it also cannot be pointed at an emulator or a
stub (its endpoint is fixed). Only public APIs are used: google-auth's service-account credentials and transport
for the OAuth token (scope ``firebase.messaging``), the standard library's ``http.client`` for the requests
(``fcm_http``: a keep-alive connection per sending thread), and the message and error formats of FCM's REST
reference (``projects.messages`` and ``ErrorCode``).

Every message carries ``notification_id`` in its data and the notification's collapse id (Android ``collapse_key``,
APNs ``apns-collapse-id``): FCM has no idempotency key, so a message whose request reached FCM but whose answer was
lost (a worker killed mid-send, a read timeout) may be sent again, and these make the repeat replace the first on
the device instead of showing twice.

The sender (credentials, threads and their connections) is created on first use, once per process and configuration.
"""
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert

from raf_network.extensions import db
from raf_network.notifications.fcm_http import NoAnswer, ProxyUnsupported, ThreadConnections

log = logging.getLogger(__name__)

MAX_BATCH = 500  # at most this many messages per call, as FCM's own batch APIs allow

# Outcomes
SENT = "sent"
INVALID_TOKEN = "invalid_token"  # remove the device
RETRY = "retry"                  # transient: send again later with backoff
FAILED = "failed"                # permanent for this message; keep the device

FCM_HOST = "https://fcm.googleapis.com"
SEND_PATH = "/v1/projects/{0}/messages:send"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# FCM's ErrorCode (and, without one, the google.rpc status) → what to do with the device.
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
TRANSIENT_CODES = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"})


@dataclass(frozen=True)
class PushContent:
    """What a user sees, in one locale, plus the data payload the app routes on (string values).

    ``collapse_id``: the same for every message of one notification, so a repeat replaces the first on a device.
    """

    title: str
    body: str
    data: dict
    locale: str
    category: str
    collapse_id: str | None = None


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
    """Send ``items`` (at most 500) with the configured backend; one PushResult per item, in order.

    Returns only when every item has its outcome, so the caller can record them all right away.
    """
    if len(items) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} messages per send, got {len(items)}")
    if not items:
        return []
    if current_app.config["PUSH_BACKEND"] == "log":
        return _log_send(items, notification_id=notification_id)
    return _sender().send(items)


# --------------------------------------------------------------------------------------------------
# log backend
# --------------------------------------------------------------------------------------------------

def _log_send(items, *, notification_id):
    """Record instead of sending (in the caller's transaction), so the would-be pushes can be inspected."""
    from raf_network.notifications.models import PushLog

    db.session.execute(insert(PushLog), [
        {"notification_id": notification_id, "token": item.token, "locale": item.content.locale,
         "title": item.content.title, "body": item.content.body, "data": item.content.data}
        for item in items
    ])
    log.info("push backend 'log': recorded %d push(es) of notification %s", len(items), notification_id)
    return [PushResult(SENT)] * len(items)


# --------------------------------------------------------------------------------------------------
# The message (FCM REST reference: projects.messages, Message)
# --------------------------------------------------------------------------------------------------

def message_body(content, *, android_channel):
    """The ``Message`` resource of ``content`` without its target: a user-visible alert, high priority on Android
    (a notification channel the app creates), an alert with sound on iOS (``apns-priority`` 10 = deliver now), and a
    collapse id per notification (FCM keeps one of the copies for an offline Android device, iOS shows one)."""
    for key, value in content.data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError("FCM data must map strings to strings")
    android = {"priority": "high",
               "notification": {"channel_id": android_channel, "sound": "default", "tag": content.category}}
    apns_headers = {"apns-priority": "10", "apns-push-type": "alert"}
    if content.collapse_id:
        android["collapse_key"] = content.collapse_id
        apns_headers["apns-collapse-id"] = content.collapse_id
    return {
        "notification": {"title": content.title, "body": content.body},
        "data": dict(content.data),
        "android": android,
        "apns": {"headers": apns_headers, "payload": {"aps": {
            "alert": {"title": content.title, "body": content.body}, "sound": "default",
            "thread-id": content.category}}},
    }


def push_error_classify(status, reply):
    """An FCM error answer (HTTP ``status``, the decoded JSON ``reply`` or None) → PushResult, per FCM's guidance:
    which errors mean the token is dead, which are worth retrying, which are our own fault."""
    error = reply.get("error") if isinstance(reply, dict) else None
    error = error if isinstance(error, dict) else {}
    details = [detail for detail in error.get("details") or () if isinstance(detail, dict)]
    code = next((detail.get("errorCode") for detail in details if detail.get("@type") == FCM_ERROR_TYPE), None)
    code = code or error.get("status") or f"HTTP_{status}"
    if code in DEAD_TOKEN_CODES:
        return PushResult(INVALID_TOKEN, code)
    if code == "THIRD_PARTY_AUTH_ERROR":
        log.error("FCM THIRD_PARTY_AUTH_ERROR: the APNs/web-push credentials in the Firebase project are "
                  "misconfigured; the device is kept")
        return PushResult(FAILED, code)
    if code == "INVALID_ARGUMENT":
        # A dead token only when FCM says the registration token is the problem; otherwise our payload is wrong and
        # the device must be kept.
        if _names_the_token(error, details):
            return PushResult(INVALID_TOKEN, code)
        log.error("FCM rejected a message as invalid (payload problem, device kept): %s", error.get("message"))
        return PushResult(FAILED, code)
    if code in TRANSIENT_CODES or status >= 500 or status == 429:
        return PushResult(RETRY, code)
    log.warning("FCM send failed: %s %s", status, error.get("message"))
    return PushResult(FAILED, code)


def _names_the_token(error, details):
    for detail in details:
        if detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or ():
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    return True
    message = str(error.get("message") or "").lower()
    return "registration token" in message and "not a valid" in message


# --------------------------------------------------------------------------------------------------
# FCM backend
# --------------------------------------------------------------------------------------------------

_senders = {}  # configuration key → FcmSender
_senders_lock = threading.Lock()


class FcmSender:
    """What sending needs, once per process and configuration: the OAuth credentials, ``PUSH_CONCURRENCY`` sending
    threads and a keep-alive connection per thread to FCM (or through a proxy from the environment): ``fcm_http``."""

    def __init__(self, config, *, name):
        from google.auth.transport.requests import Request

        self.credentials, project_id = _credentials(config)
        self.android_channel = config["PUSH_ANDROID_CHANNEL"]
        base = (config.get("FCM_URL") or FCM_HOST).rstrip("/")
        self.url = base + SEND_PATH.format(project_id)
        # Transient failures are retried per token by the job (RQ Retry with backoff), so the HTTP layer does not
        # also sleep on 500/503: a connection that cannot be made is tried once more (nothing was sent); a request
        # without an answer is not (FCM may have it), so a copy is sent only by the job's backoff retry.
        try:
            self.connections = ThreadConnections(self.url, timeout=config["PUSH_HTTP_TIMEOUT"],
                                                 ca_bundle=_ca_bundle(), proxy=_environment_proxy(base))
        except ProxyUnsupported as exc:
            raise PushConfigurationError(str(exc)) from None
        self.pool = ThreadPoolExecutor(max_workers=config["PUSH_CONCURRENCY"], thread_name_prefix=f"{name}-send")
        self.auth_request = Request()
        self.auth_lock = threading.Lock()
        log.info("FCM sender %s ready (project %s, endpoint %s, %d concurrent sends)", name, project_id, base,
                 config["PUSH_CONCURRENCY"])

    def send(self, items):
        bodies = {}  # one serialized message per distinct content; each item only adds its target
        for item in items:
            if id(item.content) not in bodies:
                bodies[id(item.content)] = json.dumps(
                    message_body(item.content, android_channel=self.android_channel), separators=(",", ":"))
        headers = self.headers()  # once per call: never a burst of token refreshes from every thread
        futures = [self.pool.submit(self.post, headers, bodies[id(item.content)], item.token) for item in items]
        return [future.result() for future in futures]

    def headers(self, *, refresh=False):
        """Request headers with a valid OAuth access token (fetched or refreshed by google-auth when needed)."""
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        with self.auth_lock:
            if refresh:
                self.credentials.refresh(self.auth_request)
            self.credentials.before_request(self.auth_request, "POST", self.url, headers)
        return headers

    def post(self, headers, message, token):
        """One ``messages:send`` request; its outcome, never an exception (one message's surprise must not lose the
        outcomes of the others)."""
        # The body is spliced from the message serialized once: `{"message":{"token":…,<the rest>}}`.
        body = ('{"message":{"token":' + json.dumps(token) + "," + message[1:] + "}").encode()
        try:
            status, data = self.connections.exchange(body, headers)
            if status == 401 and not _fcm_error_code(data):
                # The access token expired or was revoked early: refresh once, as google-auth's own session does.
                status, data = self.connections.exchange(body, self.headers(refresh=True))
        except NoAnswer as exc:
            log.warning("FCM request failed without an answer: %s", exc)
            return PushResult(RETRY, exc.code)
        except Exception as exc:  # noqa: BLE001
            log.exception("FCM send to one token failed unexpectedly")
            return PushResult(RETRY, type(exc).__name__)
        if 200 <= status < 300:
            return PushResult(SENT)
        return push_error_classify(status, _json(data))


def _json(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


def _fcm_error_code(data):
    """FCM's own ErrorCode in an answer (a 401 with THIRD_PARTY_AUTH_ERROR is about APNs, not our token)."""
    reply = _json(data)
    details = ((reply or {}).get("error") or {}).get("details") or () if isinstance(reply, dict) else ()
    return next((d.get("errorCode") for d in details if isinstance(d, dict) and d.get("@type") == FCM_ERROR_TYPE),
                None)


def _ca_bundle():
    """The environment's CA bundle, as requests would use it (read once, not per request)."""
    import requests.certs

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.certs.where()


def _environment_proxy(url):
    """The proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY …), as requests would use it."""
    import requests.utils

    return requests.utils.get_environ_proxies(url).get(url.split(":", 1)[0])


def _sender():
    config = current_app.config
    key = (config["PUSH_BACKEND"], config.get("FIREBASE_CREDENTIALS"), config.get("FIREBASE_PROJECT_ID"),
           config.get("FCM_URL"), config["PUSH_HTTP_TIMEOUT"], config["PUSH_CONCURRENCY"],
           config["PUSH_ANDROID_CHANNEL"])
    with _senders_lock:
        sender = _senders.get(key)
        if sender is None:
            sender = _senders[key] = FcmSender(config, name=f"raf-fcm-{len(_senders)}")
    return sender


def _credentials(config):
    """google-auth credentials for FCM and the project id: the service account of ``FIREBASE_CREDENTIALS`` (a file
    path or the JSON itself), or — only with ``FCM_URL`` (an emulator or a stub) — a static stand-in token."""
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    raw = config.get("FIREBASE_CREDENTIALS")
    if raw:
        if raw.lstrip().startswith("{"):
            info = json.loads(raw)
        else:
            with open(raw, encoding="utf-8") as handle:
                info = json.load(handle)
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[FCM_SCOPE])
        project_id = config.get("FIREBASE_PROJECT_ID") or info.get("project_id")
    elif config.get("FCM_URL"):
        credentials, project_id = user_credentials.Credentials(token="offline"), config.get("FIREBASE_PROJECT_ID")
    else:
        raise PushConfigurationError("PUSH_BACKEND=fcm needs FIREBASE_CREDENTIALS (a file path or the JSON itself)")
    if not project_id:
        raise PushConfigurationError("FIREBASE_PROJECT_ID is needed: the service account names no project")
    return credentials, project_id
