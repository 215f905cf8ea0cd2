"""Obaveštenja (``/console/broadcast``): an announcement to an audience — everyone, a role, a course's students.

``Proveri domet`` is a dry run: how many people and phones it reaches, nothing stored or sent. ``Pošalji`` creates
it through ``notifications.broadcasts.broadcast_create`` (the API's broadcast: same schema, same rate limit) and
opens its progress page, which refreshes itself (a ``<meta http-equiv="refresh">``, no script) until the push is
done: sent / failed / pruned. The push is a job: RQ with ``REDIS_URL``; in the embedded default it runs on a
background thread of the web process (``jobs.inline_jobs_in_background``), so the page answers at once.
"""
import json

from flask import current_app, flash, redirect, render_template, url_for
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import ConsoleForm, MultilineField, form_load
from raf_network.courses.reads import course_list
from raf_network.extensions import limiter
from raf_network.jobs import inline_jobs_in_background
from raf_network.notifications import broadcasts
from raf_network.notifications.schemas import BroadcastSchema

BROADCAST = BroadcastSchema()
AUDIENCES = (
    ("all", "Svi korisnici"),
    ("role:student", "Studenti"),
    ("role:alumni", "Alumni"),
    ("role:faculty_administrator", "Službenici fakulteta"),
    ("role:admin", "Administratori"),
    ("course", "Studenti jednog predmeta (pretplaćeni na njegove termine)"),
)
PROGRESS_REFRESH_SECONDS = 2


class BroadcastForm(ConsoleForm):
    audience = SelectField("Kome", choices=[SelectChoice(value, label) for value, label in AUDIENCES], default="all")
    course = SelectField("Predmet", choices=[], coerce=str, default="")
    title = StringField("Naslov")
    body = MultilineField("Tekst")


def _form():
    form = BroadcastForm()
    courses = json.loads(course_list()[0].raw)
    form.course.choices = [SelectChoice("", "—")] + [SelectChoice(str(course["id"]), course["name"])
                                                     for course in courses]
    return form


def _audience(form):
    """The API's audience object for the form's choice (validated by BroadcastSchema with the rest)."""
    choice = form.audience.data or ""
    if choice == "all":
        return {"all": True}
    if choice.startswith("role:"):
        return {"role": choice.removeprefix("role:")}
    if choice == "course":
        course = form.course.data or ""
        return {"course_id": int(course)} if course.isdigit() else {"course_id": "?"}
    return {"choice": choice}  # not an audience: the schema says so


def _page(form, *, reach=None, status=200):
    return render_template("console/broadcast.html", form=form, reach=reach,
                           recent=broadcasts.broadcast_list()), status


def _broadcast_limit():
    return current_app.config["BROADCAST_RATE_LIMIT"]


@blp.get("/broadcast", endpoint="broadcast")
@staff_required
def broadcast_page():
    """Obaveštenja: the form and the latest broadcasts."""
    return _page(_form())


@blp.post("/broadcast/dry-run")
@staff_required
def broadcast_dry_run():
    """How many people and phones the announcement would reach (nothing stored or sent)."""
    form = _form()
    body = form_load(form, BROADCAST, _body(form, dry_run=True))
    if body is None:
        return _page(form, status=422)
    reach = broadcasts.broadcast_create(sender_id=current_console_user().id, **body)
    audit_record("broadcast_dry_run", target=_target(body["audience"]),
                 details={"recipients": reach["recipients"], "devices": reach["devices"]})
    return _page(form, reach=reach)


@blp.post("/broadcast")
@staff_required
@limiter.limit(_broadcast_limit)
def broadcast_send():
    """Send the announcement; its progress page follows."""
    form = _form()
    body = form_load(form, BROADCAST, _body(form, dry_run=False))
    if body is None:
        return _page(form, status=422)
    inline_jobs_in_background()  # without Redis the push runs beside this request, not inside it
    sent = broadcasts.broadcast_create(sender_id=current_console_user().id, **body)
    audit_record("broadcast_send", target=f"notification {sent['notification_id']}",
                 details={"audience": body["audience"], "title": body["title"], "recipients": sent["recipients"],
                          "devices": sent["devices"]})
    flash(f"Obaveštenje je poslato (primalaca: {sent['recipients']}, telefona: {sent['devices']}).", "success")
    return redirect(url_for("console.broadcast_status", notification_id=sent["notification_id"]))


@blp.get("/broadcast/<int:notification_id>")
@staff_required
def broadcast_status(notification_id):
    """A broadcast's push: sent / failed / pruned, refreshing itself until nothing is in flight."""
    progress = broadcasts.broadcast_progress(notification_id=notification_id)
    return render_template("console/broadcast_status.html", progress=progress,
                           refresh=None if progress["finished"] else PROGRESS_REFRESH_SECONDS)


def _body(form, *, dry_run):
    return {"title": form.title.data or "", "body": form.body.data or "", "audience": _audience(form),
            "dry_run": dry_run}


def _target(audience):
    key, value = next(iter(audience.items()))
    return "everyone" if key == "all" else f"{key} {value}"
