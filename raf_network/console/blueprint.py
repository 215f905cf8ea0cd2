"""The console's blueprint and what every console request goes through: CSRF checked on every unsafe method,
answers never stored by a cache, errors as pages, the navigation. (Who is signed in: ``auth``.)"""
import logging

from flask import Blueprint, abort, current_app, g, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from raf_network.console.session import SESSION_KEY
from raf_network.errors import ApiError
from raf_network.extensions import db

log = logging.getLogger(__name__)

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static",
                static_url_path="/static")
csrf = CSRFProtect()

# The navigation of base.html, in this order. A page is linked once its endpoint exists, so pages built on other
# branches (console.exams, console.timetable, console.deliveries, console.network) appear when they are merged.
NAV = (
    ("Pregled", "console.dashboard"),
    ("Objave", "console.posts"),
    ("Obaveštenja", "console.broadcast"),
    ("Ispiti", "console.exams"),
    ("Raspored", "console.timetable"),
    ("Isporuke", "console.deliveries"),
    ("Korisnici", "console.users"),
    ("Mreža", "console.network"),
    ("Dnevnik", "console.audit_log"),
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ERROR_TEXTS = {
    400: "Zahtev nije ispravan.",
    403: "Nemate pravo pristupa ovoj stranici.",
    404: "Tražena stranica ili stavka ne postoji.",
    405: "Ova radnja nije dozvoljena.",
    409: "Radnja je u sukobu sa trenutnim stanjem.",
    413: "Poslati sadržaj je prevelik.",
    422: "Uneti podaci nisu ispravni.",
    500: "Došlo je do neočekivane greške.",
    429: "Previše zahteva; pokušajte ponovo malo kasnije.",
    503: "Usluga trenutno nije dostupna; pokušajte ponovo za koji trenutak.",
}


# Endpoints of the views that take an uploaded file (``takes_file``): a file as large as one ``flask import-*`` reads
# (IMPORT_MAX_BYTES) is accepted there, not only MAX_CONTENT_LENGTH.
FILE_ENDPOINTS = set()
MULTIPART_OVERHEAD = 16 * 1024  # the form's other fields and the multipart boundaries around the file


def takes_file(view):
    """Mark a console view as one that takes an uploaded file (under its own function name as endpoint)."""
    FILE_ENDPOINTS.add(f"{blp.name}.{view.__name__}")
    return view


@blp.before_request
def _upload_limit():
    # Registered before the CSRF check, which reads the form (and so the body) before any view runs; only for a
    # browser with a console session (checked by the views), so an anonymous request keeps MAX_CONTENT_LENGTH.
    if request.endpoint in FILE_ENDPOINTS and session.get(SESSION_KEY):
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + MULTIPART_OVERHEAD


@blp.before_request
def _csrf_check():
    # Every form of the console carries its token; a request without it (or with another session's) is refused
    # before anything runs, so it changes nothing.
    # WTF_CSRF_ENABLED (Flask-WTF's switch, on unless a test turns it off) is honoured as by its own hook.
    if request.method in UNSAFE_METHODS and current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()


@blp.after_request
def _never_cached(response):
    # Console pages are personal and change with every action: no cache may keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blp.app_context_processor
def _layout():
    if not request.blueprint == "console":
        return {}
    nav = [(label, endpoint) for label, endpoint in NAV if endpoint in current_app.view_functions]
    return {"console_nav": nav, "console_user": g.get("console_user")}


def _error_page(code, message):
    return render_template("console/error.html", code=code, message=message), code


@blp.errorhandler(CSRFError)
def _csrf_refused(error):
    return _error_page(400, "Obrazac je istekao ili nije poslat sa ove stranice. Osvežite stranicu i pokušajte "
                            "ponovo.")


@blp.errorhandler(HTTPException)
def _http_error(error):
    return _error_page(error.code or 500, ERROR_TEXTS.get(error.code, error.description))


# Refusals of the services an officer meets in the console, in Serbian (others are shown as the service says).
SERVICE_TEXTS = {
    "only an admin may grant the admin role or change an admin's account":
        "Samo administrator može da dodeli ulogu administratora ili menja nalog administratora.",
    "you cannot change your own role or disable your own account":
        "Ne možete da menjate sopstvenu ulogu niti da onemogućite sopstveni nalog.",
}


@blp.errorhandler(ApiError)
def _domain_error(error):
    # A service's refusal (Forbidden, NotFound, Conflict …), shown as a page with its message.
    detail = SERVICE_TEXTS.get(error.message, error.message)
    return _error_page(error.code, ERROR_TEXTS.get(error.code, "Radnja nije uspela.") + " " + detail)


@blp.errorhandler(Exception)
def _unexpected(error):
    # Anything else a console page raised: a page too, never the API's JSON. The database gone → 503 (try again);
    # a value it refused → 422; a bug → 500 with the request id, the trace in the log only.
    try:
        db.session.rollback()
    except Exception:  # the connection is already dead; the pool invalidates it
        log.debug("rollback after a console error failed", exc_info=True)
    if isinstance(error, DataError):
        return _error_page(422, ERROR_TEXTS[422])
    if isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated):
        log.warning("database unavailable on a console page: %s", error.__class__.__name__)
        return _error_page(503, ERROR_TEXTS[503])
    request_id = g.get("request_id", "-")
    log.error("unhandled exception on a console page (request id %s)", request_id, exc_info=error)
    return _error_page(500, f"{ERROR_TEXTS[500]} Zabeležena je pod oznakom {request_id}.")


@blp.get("/<path:unknown>")
def not_found(unknown):
    """Any other /console address: the console's own 404 page (not the API's JSON)."""
    abort(404)
