"""Configuration classes, read from the environment when they are instantiated (never at import).

``create_app`` takes one of the names in ``CONFIGS`` (or a class); every setting below comes from an
environment variable of the same name unless noted, and every variable is documented in the README.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the process must not start."""


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def _env_int(name, default):
    value = _env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc


def _env_float(name, default):
    value = _env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc


def _env_int_list(name, default):
    value = _env(name)
    if value is None:
        return list(default)
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(f"{name} must be comma-separated integers, got {value!r}") from exc


def _env_bool(name, default):
    value = _env(name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def database_url_normalize(url):
    """Accept Heroku-style ``postgres://`` URLs and point every PostgreSQL URL at psycopg 3."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every environment. Development defaults need no configuration at all."""

    ENV_NAME = "base"
    TESTING = False
    DEBUG = False

    def __init__(self):
        self.SECRET_KEY = _env("SECRET_KEY")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()

        database_url = _env("DATABASE_URL")
        if database_url is None:
            # The embedded default: an SQLite file in the instance folder (created by the factory).
            database_url = f"sqlite:///{BASE_DIR / 'instance' / 'raf_network.db'}"
        self.SQLALCHEMY_DATABASE_URI = database_url_normalize(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        if self.SQLALCHEMY_DATABASE_URI.startswith("postgresql"):
            self.SQLALCHEMY_ENGINE_OPTIONS.update(
                pool_size=_env_int("DATABASE_POOL_SIZE", 5),
                max_overflow=_env_int("DATABASE_MAX_OVERFLOW", 5),
                pool_timeout=_env_int("DATABASE_POOL_TIMEOUT", 5),
                connect_args={"connect_timeout": _env_int("DATABASE_CONNECT_TIMEOUT", 5)},
            )

        # REDIS_URL unset: in-process cache and inline jobs. Set: Redis cache and RQ queues.
        self.REDIS_URL = _env("REDIS_URL")
        self.CACHE_DEFAULT_TIMEOUT = _env_int("CACHE_DEFAULT_TIMEOUT", 3600)
        self.CACHE_KEY_PREFIX = _env("CACHE_KEY_PREFIX", "raf:")
        if self.REDIS_URL:
            self.CACHE_TYPE = "raf_network.cache.BytesRedisCache"
            self.CACHE_REDIS_URL = self.REDIS_URL
            self.CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        else:
            self.CACHE_TYPE = "SimpleCache"
        # How long a worker process trusts its own copy of a cached response without asking Redis.
        self.RESPONSE_CACHE_LOCAL_TTL = _env_float("RESPONSE_CACHE_LOCAL_TTL", 60.0)
        # Cache-Control max-age (seconds) for catalogue reads; 0 = clients revalidate with ETag every time.
        self.CATALOGUE_MAX_AGE = _env_int("CATALOGUE_MAX_AGE", 0)

        # Access tokens. The released app stores its token and never refreshes, so the default lifetime is
        # long (180 days); every token is still revocable (see raf_network/users/auth.py).
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY")
        self.ACCESS_TOKEN_TTL = _env_int("ACCESS_TOKEN_TTL", 180 * 24 * 3600)

        # Rate limits (Flask-Limiter): shared in Redis when configured, else per process.
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_KEY_PREFIX = "raf-limits"
        # A Redis outage must not lock everyone out: fall back to per-process limits meanwhile.
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

        # Background jobs: RQ when Redis is configured, otherwise inline in the calling process.
        self.JOBS_INLINE = _env_bool("JOBS_INLINE", not self.REDIS_URL)
        self.JOB_TIMEOUT = _env_int("JOB_TIMEOUT", 600)

        # Push notifications (raf_network/notifications): FCM with a service account, or recorded in push_log.
        self.FIREBASE_CREDENTIALS = _env("FIREBASE_CREDENTIALS")  # a file path or the JSON itself
        self.FIREBASE_PROJECT_ID = _env("FIREBASE_PROJECT_ID")
        self.FCM_URL = _env("FCM_URL")  # replaces https://fcm.googleapis.com (an emulator or a stub)
        self.PUSH_BACKEND = _env("PUSH_BACKEND", "fcm" if self.FIREBASE_CREDENTIALS else "log").lower()
        self.PUSH_BATCH_SIZE = _env_int("PUSH_BATCH_SIZE", 500)
        # Seconds before each retry of the tokens that failed transiently (exponential backoff).
        self.PUSH_RETRY_INTERVALS = _env_int_list("PUSH_RETRY_INTERVALS", [30, 120, 480, 1920])
        self.PUSH_HTTP_CONNECTIONS = _env_int("PUSH_HTTP_CONNECTIONS", 100)
        self.PUSH_HTTP_TIMEOUT = _env_float("PUSH_HTTP_TIMEOUT", 10.0)
        self.PUSH_ANDROID_CHANNEL = _env("PUSH_ANDROID_CHANNEL", "raf_notifications")
        self.DEVICE_STALE_DAYS = _env_int("DEVICE_STALE_DAYS", 60)
        self.BROADCAST_RATE_LIMIT = _env("BROADCAST_RATE_LIMIT", "10 per minute")

        # flask-smorest / OpenAPI
        self.API_TITLE = "RAF Network API"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        self.OPENAPI_SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14/"
        self.API_SPEC_OPTIONS = {
            "info": {"description": "Backend of the RAF student mobile app. See README.md."},
        }

        self.JSON_SORT_KEYS = False
        self.MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)

    def validate(self):
        """Refuse to start with missing or unsafe settings. Extended per environment."""
        if self.PUSH_BACKEND not in ("fcm", "log"):
            raise ConfigError(f"PUSH_BACKEND must be fcm or log, got {self.PUSH_BACKEND!r}")
        if not 1 <= self.PUSH_BATCH_SIZE <= 500:
            raise ConfigError("PUSH_BATCH_SIZE must be between 1 and 500 (FCM's limit per send)")
        if any(interval < 0 for interval in self.PUSH_RETRY_INTERVALS):
            raise ConfigError("PUSH_RETRY_INTERVALS must not be negative")
        if self.PUSH_BACKEND == "fcm" and not self.FIREBASE_CREDENTIALS:
            if not self.FCM_URL:
                raise ConfigError("PUSH_BACKEND=fcm needs FIREBASE_CREDENTIALS (a file path or the JSON itself)")
            if not self.FIREBASE_PROJECT_ID:
                raise ConfigError("FCM_URL without FIREBASE_CREDENTIALS needs FIREBASE_PROJECT_ID")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the interactive debugger stays off; it would be a remote shell on a shared network

    def __init__(self):
        super().__init__()
        if not self.SECRET_KEY:
            self.SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production"


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True


class ProductionConfig(Config):
    ENV_NAME = "production"

    def validate(self):
        super().validate()
        if not self.SECRET_KEY or len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be set (at least 32 characters) in production")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
