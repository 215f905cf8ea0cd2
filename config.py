"""Configuration classes, read from the environment when they are instantiated (never at import).

``create_app`` takes one of the names in ``CONFIGS`` (or a class); every setting below comes from an
environment variable of the same name unless noted, and every variable is documented in the README. Values are
parsed by ``environs`` (typed: integers, numbers, booleans, lists, dates); an unset or empty variable means the
default shown, and every malformed one is reported at once, as a ``ConfigError`` that stops the process.
"""
import base64
import binascii
from datetime import date
from pathlib import Path

from environs import Env, EnvError

BASE_DIR = Path(__file__).resolve().parent
# Real RAF data is kept beside the repository (../shared/data), never inside it; `flask seed` reads it from there.
SHARED_DATA_DIR = BASE_DIR.parent / "shared" / "data"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the process must not start."""


def webhook_keys_parse(secrets):
    """``WEBHOOK_SECRET`` (space-separated ``whsec_<base64>`` secrets, for rotation) → list of HMAC keys."""
    keys = []
    for secret in (secrets or "").split():
        try:
            keys.append(base64.b64decode(secret.removeprefix("whsec_"), validate=True))
        except (binascii.Error, ValueError):
            raise ConfigError("WEBHOOK_SECRET must be space-separated whsec_<base64> secrets") from None
    if any(len(key) < 16 for key in keys):
        raise ConfigError("each WEBHOOK_SECRET key must be at least 16 bytes (24 base64 characters)")
    return keys


def database_url_normalize(url):
    """Accept Heroku-style ``postgres://`` URLs and point every PostgreSQL URL at psycopg 3."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _text(env, name, default=None):
    """An optional text setting: surrounding spaces dropped; unset or empty means ``default``."""
    value = env.str(name, None)
    return value.strip() or default if value is not None else default


class Config:
    """Settings shared by every environment. Development defaults need no configuration at all."""

    ENV_NAME = "base"
    TESTING = False
    DEBUG = False

    def __init__(self):
        env = Env(eager=False)  # every malformed variable is reported at once, by seal()
        try:
            self._read(env)
            env.seal()
        except EnvError as exc:
            raise ConfigError(str(exc)) from None
        self._derive()

    def _read(self, env):
        """Every setting from its environment variable, typed; the ones derived from others in ``_derive``."""
        self.SECRET_KEY = _text(env, "SECRET_KEY")
        self.LOG_LEVEL = _text(env, "LOG_LEVEL", "INFO").upper()
        self.DATABASE_URL = _text(env, "DATABASE_URL")
        self.DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", 5)
        self.DATABASE_MAX_OVERFLOW = env.int("DATABASE_MAX_OVERFLOW", 5)
        self.DATABASE_POOL_TIMEOUT = env.int("DATABASE_POOL_TIMEOUT", 5)
        self.DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", 5)

        # REDIS_URL unset: in-process cache and inline jobs. Set: Redis cache and RQ queues.
        self.REDIS_URL = _text(env, "REDIS_URL")
        self.CACHE_DEFAULT_TIMEOUT = env.int("CACHE_DEFAULT_TIMEOUT", 3600)
        self.CACHE_KEY_PREFIX = _text(env, "CACHE_KEY_PREFIX", "raf:")
        # Short: a slow or unreachable cache must not hold up reads that the database can serve.
        self.CACHE_REDIS_TIMEOUT = env.float("CACHE_REDIS_TIMEOUT", 0.5)
        # With Redis: how often each process re-reads the cache generations even when no announcement came (the
        # bound on how late another process can see a change whose announcement was lost).
        self.CACHE_RESYNC_SECONDS = env.float("CACHE_RESYNC_SECONDS", 5.0)
        # Cache-Control max-age (seconds) for catalogue reads; 0 = clients revalidate with ETag every time.
        self.CATALOGUE_MAX_AGE = env.int("CATALOGUE_MAX_AGE", 0)

        # Access tokens. The released app stores its token and never refreshes, so the default lifetime is
        # long (180 days); every token is still revocable (see raf_network/users/auth.py).
        self.JWT_SECRET_KEY = _text(env, "JWT_SECRET_KEY")
        self.ACCESS_TOKEN_TTL = env.int("ACCESS_TOKEN_TTL", 180 * 24 * 3600)
        # Each process keeps the sign-in sessions it verified; a change of access made through the services is seen
        # at once (raf_network/users/auth.py), one made around them (by hand in SQL) within this many seconds.
        self.SESSION_RECHECK_SECONDS = env.float("SESSION_RECHECK_SECONDS", 60.0)
        # Refresh tokens rotate on every use; each new one lives this long (sliding), default one year.
        self.REFRESH_TOKEN_TTL = env.int("REFRESH_TOKEN_TTL", 365 * 24 * 3600)

        # Google sign-in: ID tokens must be issued for one of these OAuth client ids (see docs/deploy.md).
        self.GOOGLE_CLIENT_IDS = [client_id.strip() for client_id in env.list("GOOGLE_CLIENT_IDS", [])
                                  if client_id.strip()]
        self.GOOGLE_CERTS_URL = _text(env, "GOOGLE_CERTS_URL", "https://www.googleapis.com/oauth2/v3/certs")

        # The officers' console (raf_network/console): Google sign-in for the web (OpenID Connect, code flow with
        # PKCE) with the faculty's web OAuth client; without GOOGLE_WEB_CLIENT_ID only one-time links sign in.
        self.GOOGLE_OIDC_URL = _text(env, "GOOGLE_OIDC_URL",
                                     "https://accounts.google.com/.well-known/openid-configuration")
        self.GOOGLE_WEB_CLIENT_ID = _text(env, "GOOGLE_WEB_CLIENT_ID")
        self.GOOGLE_WEB_CLIENT_SECRET = _text(env, "GOOGLE_WEB_CLIENT_SECRET")
        # Where browsers reach this app: the base of one-time links and of the OpenID Connect redirect URI.
        self.PUBLIC_URL = _text(env, "PUBLIC_URL", f"http://127.0.0.1:{env.int('PORT', 5000)}").rstrip("/")
        # Seconds a console session may stay unused before it ends (sign in again).
        self.CONSOLE_IDLE_TIMEOUT = env.int("CONSOLE_IDLE_TIMEOUT", 30 * 60)
        # Accounts on this domain are students (digits in the local part) or faculty staff; others are alumni.
        self.STUDENT_EMAIL_DOMAIN = _text(env, "STUDENT_EMAIL_DOMAIN", "raf.rs").lower().lstrip("@")
        # Per client address, for sign-in and for refresh (each counted on its own); Flask-Limiter syntax.
        # Generous, because a campus signs in through one public address (≥ 300 valid sign-ins a minute on
        # the first day of term); failed attempts have a strict limit of their own, which valid ones never hit.
        self.LOGIN_RATE_LIMIT = _text(env, "LOGIN_RATE_LIMIT", "600/minute")
        self.LOGIN_FAILURE_RATE_LIMIT = _text(env, "LOGIN_FAILURE_RATE_LIMIT", "20/minute")
        self.MAX_DEVICES_PER_USER = env.int("MAX_DEVICES_PER_USER", 10)

        # The semester the iCalendar feed covers: weekly events from the start until the end (inclusive).
        self.SEMESTER_START = env.date("SEMESTER_START", date(2026, 10, 1))
        self.SEMESTER_END = env.date("SEMESTER_END", date(2027, 1, 15))

        # Rate limits (Flask-Limiter): shared in Redis when configured, else per process.
        self.RATELIMIT_ENABLED = env.bool("RATELIMIT_ENABLED", True)

        # Deployment behind a router/proxy, and cross-origin browsers (none needed by the mobile app).
        self.TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", 0)
        self.CORS_ORIGINS = [origin.strip() for origin in env.list("CORS_ORIGINS", []) if origin.strip()]
        # /metrics (Prometheus). When METRICS_TOKEN is set, scrapes must send it as a bearer token.
        self.METRICS_TOKEN = _text(env, "METRICS_TOKEN")

        # Background jobs: RQ when Redis is configured, otherwise inline in the calling process.
        self.JOBS_INLINE = env.bool("JOBS_INLINE", not self.REDIS_URL)
        self.JOB_TIMEOUT = env.int("JOB_TIMEOUT", 600)

        # Push notifications (raf_network/notifications): FCM with a service account, or recorded in push_log.
        self.FIREBASE_CREDENTIALS = _text(env, "FIREBASE_CREDENTIALS")  # a file path or the JSON itself
        self.FIREBASE_PROJECT_ID = _text(env, "FIREBASE_PROJECT_ID")
        self.FCM_URL = _text(env, "FCM_URL")  # replaces https://fcm.googleapis.com (an emulator or a stub)
        self.PUSH_BACKEND = _text(env, "PUSH_BACKEND", "fcm" if self.FIREBASE_CREDENTIALS else "log").lower()
        self.PUSH_BATCH_SIZE = env.int("PUSH_BATCH_SIZE", 500)
        # Seconds before each retry of the tokens that failed transiently (exponential backoff).
        self.PUSH_RETRY_INTERVALS = env.list("PUSH_RETRY_INTERVALS", [30, 120, 480, 1920], subcast=int)
        self.PUSH_HTTP_TIMEOUT = env.float("PUSH_HTTP_TIMEOUT", 10.0)
        # Deliveries claimed, sent and recorded together: at most this many pushes are in flight when a worker
        # dies, and only those can reach a phone twice after the restart. Sent PUSH_CONCURRENCY at a time (one
        # round trip per chunk when they are equal: FCM answers in tens of milliseconds). 100 rather than 50: the
        # claim and record statements per chunk are a fixed cost, and halving them took the 10,000-device fan-out
        # on one worker from 10.1-10.5 s to 7.5-8.1 s when the push step ran alone (docs/benchmarks.md, "Push
        # fan-out"; in a full bench run it took the http.client sender as well to get below 10 s).
        self.PUSH_CHUNK_SIZE = env.int("PUSH_CHUNK_SIZE", 100)
        self.PUSH_CONCURRENCY = env.int("PUSH_CONCURRENCY", 100)
        # Seconds a claim stays valid when its run cannot be seen dead (SQLite, a hung worker); then it is sent
        # again. Must outlast sending one chunk (see validate).
        self.PUSH_CLAIM_LEASE = env.float("PUSH_CLAIM_LEASE", 90.0)
        # Interrupted pushes older than this are not resumed by recovery: a stale alert is worse than none.
        self.PUSH_RECOVER_WINDOW = env.int("PUSH_RECOVER_WINDOW", 24 * 3600)
        self.PUSH_ANDROID_CHANNEL = _text(env, "PUSH_ANDROID_CHANNEL", "raf_notifications")
        self.DEVICE_STALE_DAYS = env.int("DEVICE_STALE_DAYS", 60)
        self.BROADCAST_RATE_LIMIT = _text(env, "BROADCAST_RATE_LIMIT", "10 per minute")

        # `flask seed` loads the real RAF files from this folder (raspored.csv, kol_nedelja.csv); without them it
        # seeds the project's own, clearly labelled demo data.
        self.SEED_DATA_DIR = _text(env, "SEED_DATA_DIR", str(SHARED_DATA_DIR))
        # `flask import-schedule` / `import-exams` read a path or an http(s) URL: at most this many bytes, and a
        # download must answer within this many seconds.
        self.IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", 10 * 1024 * 1024)
        self.IMPORT_FETCH_TIMEOUT = env.float("IMPORT_FETCH_TIMEOUT", 10.0)

        # Course-service webhook (Standard Webhooks). The first secret signs (flask webhook sign); all verify.
        self.WEBHOOK_SECRET = _text(env, "WEBHOOK_SECRET")
        self.WEBHOOK_MAX_BODY = env.int("WEBHOOK_MAX_BODY", 8 * 1024 * 1024)
        self.WEBHOOK_MAX_DELETE_SHARE = env.float("WEBHOOK_MAX_DELETE_SHARE", 0.5)
        self.WEBHOOK_RATE_LIMIT = _text(env, "WEBHOOK_RATE_LIMIT", "60 per minute")

        # The faculty's alumni portal, read by `flask network import-portal` (its public JSON API). People are
        # fetched PORTAL_CONCURRENCY at a time, each request may take PORTAL_TIMEOUT seconds (connect and read).
        self.ALUMNI_PORTAL_URL = _text(env, "ALUMNI_PORTAL_URL", "http://alumni.raf.edu.rs").rstrip("/")
        self.PORTAL_CONCURRENCY = env.int("PORTAL_CONCURRENCY", 16)
        self.PORTAL_TIMEOUT = env.float("PORTAL_TIMEOUT", 10.0)
        # The alumni network: posts per page of the feed, and the largest picture accepted (bytes, before it is
        # re-encoded; a picture upload's own body limit instead of MAX_CONTENT_LENGTH).
        self.FEED_LIMIT = env.int("FEED_LIMIT", 50)
        self.MAX_PICTURE_BYTES = env.int("MAX_PICTURE_BYTES", 5 * 1024 * 1024)

        self.MAX_CONTENT_LENGTH = env.int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)

    def _derive(self):
        """Settings for the libraries, derived from the ones read."""
        database_url = self.DATABASE_URL
        if database_url is None:
            # The embedded default: an SQLite file in the instance folder (created by the factory).
            database_url = f"sqlite:///{BASE_DIR / 'instance' / 'raf_network.db'}"
        self.SQLALCHEMY_DATABASE_URI = database_url_normalize(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
            self.SQLALCHEMY_ENGINE_OPTIONS.update(
                pool_size=self.DATABASE_POOL_SIZE, max_overflow=self.DATABASE_MAX_OVERFLOW,
                pool_timeout=self.DATABASE_POOL_TIMEOUT,
                connect_args={"connect_timeout": self.DATABASE_CONNECT_TIMEOUT},
            )
        if self.REDIS_URL:
            self.CACHE_TYPE = "raf_network.cache.bodies.BytesRedisCache"
            self.CACHE_REDIS_URL = self.REDIS_URL
            self.CACHE_OPTIONS = {"socket_connect_timeout": self.CACHE_REDIS_TIMEOUT,
                                  "socket_timeout": self.CACHE_REDIS_TIMEOUT}
        else:
            self.CACHE_TYPE = "SimpleCache"
        if self.SEMESTER_END < self.SEMESTER_START:
            raise ConfigError("SEMESTER_END must not be before SEMESTER_START")
        webhook_keys_parse(self.WEBHOOK_SECRET)  # malformed → refuse to start, in every environment

        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        self.RATELIMIT_HEADERS_ENABLED = True
        # A sliding window: no double burst at the edge of a fixed minute.
        self.RATELIMIT_STRATEGY = "moving-window"
        self.RATELIMIT_KEY_PREFIX = "raf-limits"
        # A Redis outage must not lock everyone out: fall back to per-process limits meanwhile.
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

        # flask-smorest / OpenAPI
        self.API_TITLE = "RAF Network API"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        # Swagger UI's assets come from the swagger-ui-bundle package, served by this app (raf_network/api_docs.py):
        # the docs work offline and their CSP names no third party. No validator badge (it calls out).
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
        self.OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}
        self.API_SPEC_OPTIONS = {"info": {"description": "Backend of the RAF student mobile app. See README.md."}}
        self.JSON_SORT_KEYS = False

        # The console's cookie session (the API has none): signed, HttpOnly, SameSite=Lax, under /console only;
        # Secure is decided per request (set behind TLS; see raf_network/console/session.py).
        self.SESSION_COOKIE_NAME = "raf_console"
        self.SESSION_COOKIE_PATH = "/console"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        # Flask-WTF: the console checks CSRF on every unsafe request of its own (console/__init__.py), not the
        # API's (bearer tokens, no cookies: nothing to forge).
        self.WTF_CSRF_CHECK_DEFAULT = False
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the console session (idle timeout)

    def validate(self):
        """Refuse to start with missing or unsafe settings. Extended per environment."""
        self._push_validate()
        self._portal_validate()
        self._network_validate()
        if self.IMPORT_MAX_BYTES < 1 or self.IMPORT_FETCH_TIMEOUT <= 0:
            raise ConfigError("IMPORT_MAX_BYTES and IMPORT_FETCH_TIMEOUT must be positive")
        if self.CONSOLE_IDLE_TIMEOUT < 60:
            raise ConfigError("CONSOLE_IDLE_TIMEOUT must be at least 60 seconds")
        if self.GOOGLE_WEB_CLIENT_ID and not self.GOOGLE_WEB_CLIENT_SECRET:
            raise ConfigError("GOOGLE_WEB_CLIENT_ID needs GOOGLE_WEB_CLIENT_SECRET (the web client's secret)")
        if not self.PUBLIC_URL.startswith(("http://", "https://")):
            raise ConfigError("PUBLIC_URL must be an http(s) URL, e.g. https://raf-network.example.org")

    def _push_validate(self):
        if self.PUSH_BACKEND not in ("fcm", "log"):
            raise ConfigError(f"PUSH_BACKEND must be fcm or log, got {self.PUSH_BACKEND!r}")
        if not 1 <= self.PUSH_BATCH_SIZE <= 500:
            raise ConfigError("PUSH_BATCH_SIZE must be between 1 and 500 (FCM's limit per send)")
        if not 1 <= self.PUSH_CHUNK_SIZE <= self.PUSH_BATCH_SIZE:
            raise ConfigError("PUSH_CHUNK_SIZE must be between 1 and PUSH_BATCH_SIZE")
        if not 1 <= self.PUSH_CONCURRENCY <= 500:
            raise ConfigError("PUSH_CONCURRENCY must be between 1 and 500 (a connection to FCM per sending thread)")
        # Worst case for one chunk: each round of PUSH_CONCURRENCY requests may take a connect attempt, its one
        # retry and a read, each up to PUSH_HTTP_TIMEOUT. A shorter lease would let a slow run's claims be sent twice.
        rounds = -(-self.PUSH_CHUNK_SIZE // self.PUSH_CONCURRENCY)
        if self.PUSH_CLAIM_LEASE <= 3 * self.PUSH_HTTP_TIMEOUT * rounds:
            raise ConfigError("PUSH_CLAIM_LEASE must exceed 3 × PUSH_HTTP_TIMEOUT × ⌈PUSH_CHUNK_SIZE / "
                              "PUSH_CONCURRENCY⌉ (the longest one chunk can take)")
        if any(interval < 0 for interval in self.PUSH_RETRY_INTERVALS):
            raise ConfigError("PUSH_RETRY_INTERVALS must not be negative")
        if self.PUSH_BACKEND == "fcm" and not self.FIREBASE_CREDENTIALS:
            if not self.FCM_URL:
                raise ConfigError("PUSH_BACKEND=fcm needs FIREBASE_CREDENTIALS (a file path or the JSON itself)")
            if not self.FIREBASE_PROJECT_ID:
                raise ConfigError("FCM_URL without FIREBASE_CREDENTIALS needs FIREBASE_PROJECT_ID")

    def _portal_validate(self):
        if not 1 <= self.PORTAL_CONCURRENCY <= 64:
            raise ConfigError("PORTAL_CONCURRENCY must be between 1 and 64 (requests to the alumni portal at a time)")
        if self.PORTAL_TIMEOUT <= 0:
            raise ConfigError("PORTAL_TIMEOUT must be a positive number of seconds")

    def _network_validate(self):
        if not 1 <= self.FEED_LIMIT <= 500:
            raise ConfigError("FEED_LIMIT must be between 1 and 500")
        if self.MAX_PICTURE_BYTES < 1024:
            raise ConfigError("MAX_PICTURE_BYTES must be at least 1024")


# Development only (documented in the README), so `flask webhook send` works with zero configuration.
DEV_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"raf-network-dev-only-webhook-secret").decode("ascii")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the interactive debugger stays off; it would be a remote shell on a shared network

    def __init__(self):
        super().__init__()
        if not self.SECRET_KEY:
            self.SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production"
        if not self.WEBHOOK_SECRET:
            self.WEBHOOK_SECRET = DEV_WEBHOOK_SECRET


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True


class ProductionConfig(Config):
    ENV_NAME = "production"

    def validate(self):
        super().validate()
        if not self.SECRET_KEY or len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be set (at least 32 characters) in production")
        if not self.WEBHOOK_SECRET:
            raise ConfigError("WEBHOOK_SECRET must be set (whsec_<base64>) in production")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
