"""The one module that talks to Firebase Cloud Messaging (the only importer of ``firebase_admin``).

``push_send(items)`` sends up to 500 messages, ``PUSH_CONCURRENCY`` at a time on a thread pool kept for the
process, and returns one ``PushResult`` per item once all of them are answered, classified the way FCM's guidance
says: the token is dead (remove the device), try again later, or give up. ``PUSH_BACKEND=log`` records the
would-be pushes in ``push_log`` instead of sending.

Every message carries ``notification_id`` in its data and the notification's collapse id (Android ``collapse_key``,
APNs ``apns-collapse-id``): FCM has no idempotency key, so a message whose request reached FCM but whose answer was
lost (a worker killed mid-send, a read timeout) may be sent again, and these make the repeat replace the first on
the device instead of showing twice.

The firebase App and the thread pool are created on first use, once per process and configuration (never at import).
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

_apps = {}  # configuration key → _Sender
_apps_lock = threading.Lock()


@dataclass(frozen=True)
class _Sender:
    """What sending needs, once per process and configuration.

    firebase-admin encodes the messages, holds the credentials and maps FCM's error replies onto its exceptions;
    the requests themselves go out on urllib3 directly. firebase-admin's own path (requests, through google-auth's
    AuthorizedSession) costs about 1.3 ms of CPU per message, three times as much, and a fan-out is CPU-bound.
    """

    app: object         # firebase_admin.App
    service: object     # its messaging service (encoding, error mapping)
    url: str            # …/v1/projects/<id>/messages:send
    headers: dict       # firebase-admin's own request headers
    endpoint: object    # urllib3 connection pool of PUSH_HTTP_CONNECTIONS to FCM (or the ProxyManager)
    target: str         # what to ask ``endpoint`` for: the path, or the absolute URL through a proxy
    pool: ThreadPoolExecutor  # PUSH_CONCURRENCY threads, kept for the process
    auth_request: object      # google-auth's transport for fetching access tokens
    auth_lock: threading.Lock


def _fcm_send(items):
    sender = _sender()
    payloads = {}  # one encoded message per distinct content; each item only changes the target
    for item in items:
        if id(item.content) not in payloads:
            payloads[id(item.content)] = _message_encode(item.content)
    headers = _authorized_headers(sender)  # once per call: never a burst of token refreshes from every thread
    futures = [sender.pool.submit(_fcm_post, sender, headers, payloads[id(item.content)], item.token)
               for item in items]
    return [future.result() for future in futures]


def _message_encode(content):
    """The JSON of a message to a placeholder token, encoded (and validated) by firebase-admin once per content."""
    from firebase_admin import messaging

    # Message(fid=…): `token=` is deprecated since firebase-admin 7.5; the wire format is the same target.
    message = messaging.Message(fid="placeholder", **_message_parts(content))
    return messaging._MessagingService.encode_message(message)


def _authorized_headers(sender, *, refresh=False):
    """The request headers with a valid OAuth access token (fetched or refreshed by google-auth when needed)."""
    credential = sender.app.credential.get_credential()
    headers = {**sender.headers, "Content-Type": "application/json; charset=UTF-8"}
    with sender.auth_lock:
        if refresh:
            credential.refresh(sender.auth_request)
        credential.before_request(sender.auth_request, "POST", sender.url, headers)
    return headers


def _fcm_post(sender, headers, payload, token):
    """One HTTP v1 ``messages:send`` request; its outcome, never an exception (one message's surprise must not
    lose the outcomes of the others)."""
    import urllib3

    body = json.dumps({"message": {**payload, "fid": token}}, separators=(",", ":")).encode()
    try:
        response = sender.endpoint.urlopen("POST", sender.target, body=body, headers=headers)
        if response.status == 401:  # the access token expired or was revoked early: refresh once, as google-auth
            response = sender.endpoint.urlopen("POST", sender.target, body=body,
                                               headers=_authorized_headers(sender, refresh=True))
    except urllib3.exceptions.HTTPError as exc:
        return _network_failure(exc)
    except Exception as exc:  # noqa: BLE001
        log.exception("FCM send to one token failed unexpectedly")
        return PushResult(RETRY, type(exc).__name__)
    if 200 <= response.status < 300:
        return PushResult(SENT)
    return push_error_classify(sender.service._handle_fcm_error(_http_error(response, sender.url)))


def _network_failure(exc):
    """No answer: refused or reset before the request (nothing reached FCM), or none to a request that was sent
    (FCM may have it: the job's backoff retry may deliver a second copy, which the collapse id folds into one)."""
    import urllib3

    reason = getattr(exc, "reason", None) or exc
    code = "DEADLINE_EXCEEDED" if isinstance(reason, urllib3.exceptions.TimeoutError) else "UNAVAILABLE"
    log.warning("FCM request failed without an answer: %s", exc)
    return PushResult(RETRY, code)


def _http_error(response, url):
    """FCM's error reply as the requests error firebase-admin maps onto its exceptions (UnregisteredError, …)."""
    import requests
    from requests.structures import CaseInsensitiveDict

    reply = requests.Response()
    reply.status_code = response.status
    reply._content = response.data
    reply.headers = CaseInsensitiveDict(response.headers)
    reply.url = url
    reply.encoding = "utf-8"
    return requests.exceptions.HTTPError(f"{response.status} from FCM", response=reply)


def _message_parts(content):
    from firebase_admin import messaging

    channel = current_app.config["PUSH_ANDROID_CHANNEL"]
    apns_headers = {"apns-priority": "10", "apns-push-type": "alert"}
    if content.collapse_id:
        apns_headers["apns-collapse-id"] = content.collapse_id
    return {
        "notification": messaging.Notification(title=content.title, body=content.body),
        "data": content.data,
        # A user-visible alert: high priority on Android (a notification channel the app creates),
        # an alert with sound on iOS (apns-priority 10 = deliver now). A collapse id per notification: FCM keeps
        # one of the copies for an offline Android device, and iOS shows one. (FCM keeps at most four collapse
        # keys per offline device; the tray shows one alert per category anyway, as ``tag`` replaces.)
        "android": messaging.AndroidConfig(
            priority="high", collapse_key=content.collapse_id,
            notification=messaging.AndroidNotification(channel_id=channel, sound="default", tag=content.category),
        ),
        "apns": messaging.APNSConfig(
            headers=apns_headers,
            payload=messaging.APNSPayload(aps=messaging.Aps(
                alert=messaging.ApsAlert(title=content.title, body=content.body),
                sound="default", thread_id=content.category,
            )),
        ),
    }


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
        return PushResult(RETRY, "UNKNOWN")  # no answer (see _network_failure)
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


def _sender():
    config = current_app.config
    key = (config["PUSH_BACKEND"], config.get("FIREBASE_CREDENTIALS"), config.get("FIREBASE_PROJECT_ID"),
           config.get("FCM_URL"), config["PUSH_HTTP_CONNECTIONS"], config["PUSH_HTTP_TIMEOUT"],
           config["PUSH_CONCURRENCY"])
    with _apps_lock:
        sender = _apps.get(key)
        if sender is None:
            sender = _apps[key] = _sender_create(config, name=f"raf-network-{len(_apps)}")
    return sender


def _firebase_app():
    return _sender().app


def _sender_create(config, *, name):
    import firebase_admin
    import requests.certs
    import requests.utils
    import urllib3
    from firebase_admin import messaging
    from google.auth.transport.requests import Request

    options = {"httpTimeout": config["PUSH_HTTP_TIMEOUT"]}
    if config.get("FIREBASE_PROJECT_ID"):
        options["projectId"] = config["FIREBASE_PROJECT_ID"]
    app = firebase_admin.initialize_app(_credential(config), options, name=name)
    service = messaging._get_messaging_service(app)
    base = (config.get("FCM_URL") or FCM_HOST).rstrip("/")
    # Transient failures are retried per token by our job (RQ Retry with backoff), so the HTTP layer must not
    # also sleep on 500/503. A refused connection is retried once (nothing was sent); a request without an
    # answer is not (FCM may have it), so a copy is sent only by the job's backoff retry.
    pool_options = {
        "num_pools": 2, "maxsize": config["PUSH_HTTP_CONNECTIONS"], "block": True,
        "timeout": urllib3.Timeout(connect=config["PUSH_HTTP_TIMEOUT"], read=config["PUSH_HTTP_TIMEOUT"]),
        "retries": urllib3.Retry(total=None, connect=1, read=0, status=0, redirect=0, other=0,
                                 allowed_methods=None, raise_on_status=False),
        # The environment's CA bundle and proxy, as requests would use them (read once, not per request).
        "ca_certs": os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.certs.where(),
    }
    url = base + SEND_PATH.format(app.project_id)
    proxy = requests.utils.get_environ_proxies(base).get(base.split(":", 1)[0])
    if proxy:
        endpoint, target = urllib3.ProxyManager(proxy, **pool_options), url
    else:  # one host: its pool, without the PoolManager's lookup per request
        endpoint = urllib3.PoolManager(**pool_options).connection_from_url(url)
        target = urllib3.util.parse_url(url).path
    pool = ThreadPoolExecutor(max_workers=config["PUSH_CONCURRENCY"], thread_name_prefix=f"{name}-send")
    log.info("firebase app %s initialised (project %s, endpoint %s, %d concurrent sends)", name, app.project_id,
             base, config["PUSH_CONCURRENCY"])
    return _Sender(app=app, service=service, url=url, headers=dict(service._fcm_headers), endpoint=endpoint,
                   target=target, pool=pool, auth_request=Request(), auth_lock=threading.Lock())


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
