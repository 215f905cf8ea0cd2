"""Ispiti (``/console/exams``): the exam periods, hidden ones included, each with a show/hide button; and an
exam-schedule upload (the exam office's file, as ``flask import-exams`` reads it) → its match table → confirm.

Through ``courses.periods`` (``period_list``, ``period_visibility_set``: one catalogue change, so the cached
``GET /api/examination-periods`` changes at once) and ``courses.exam_import`` (``exam_schedule_import`` — with
``dry_run`` for the match table, without it in the job). The upload is a console task (``console.tasks``): the dry
run stores it as planned with its options, the confirmation queues it, the job imports exactly the stored text with
the same options (the day it was checked included, which decides the year of ``DD.MM.`` dates).
"""
from datetime import date

from flask import flash, redirect, render_template, url_for
from marshmallow import fields, validate
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp, takes_file
from raf_network.console.forms import ActionForm, form_load
from raf_network.console.tasks import task_cancel, task_get, task_list, task_plan, task_runner, task_start
from raf_network.console.uploads import ConfirmForm, UploadFileForm, refusal_lines, upload_name, upload_text
from raf_network.courses import exam_import, periods
from raf_network.errors import ValidationFailed
from raf_network.jobs import inline_jobs_in_background
from raf_network.schemas import BaseSchema

KIND = "exam_import"
VISIBILITY = (("keep", "Kao do sada (novi rok je skriven)"), ("visible", "Vidljiv u aplikaciji"),
              ("hidden", "Skriven"))
STATUS_TEXTS = {"exact": "prepoznat", "fuzzy": "prepoznat (približno)", "ambiguous": "dvosmislen",
                "unmatched": "nije prepoznat"}


class ExamUploadSchema(BaseSchema):
    """The options of ``flask import-exams``."""

    period = fields.String(required=True, validate=validate.Length(
        min=1, max=200, error="Naziv roka mora imati od 1 do 200 znakova."))
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(
        min=exam_import.YEAR_MIN, max=exam_import.YEAR_MAX,
        error=f"Godina mora biti između {exam_import.YEAR_MIN} i {exam_import.YEAR_MAX}."),
        error_messages={"invalid": "Unesite godinu (npr. 2026)."})
    start = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Unesite datum."})
    end = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Unesite datum."})
    visibility = fields.String(load_default="keep", validate=validate.OneOf([value for value, _ in VISIBILITY]))
    strict = fields.Boolean(load_default=False)


EXAM_UPLOAD = ExamUploadSchema()


class ExamUploadForm(UploadFileForm):
    period = StringField("Naziv ispitnog roka")
    year = StringField("Godina datuma (ako nije tekuća akademska)")
    start = StringField("Prvi dan roka", render_kw={"type": "date"})
    end = StringField("Poslednji dan roka", render_kw={"type": "date"})
    visibility = SelectField("Vidljivost", choices=[SelectChoice(value, label) for value, label in VISIBILITY],
                             default="keep")
    strict = BooleanField("Strogo: odbij celu datoteku ako neki predmet nije prepoznat")


def _page(form=None, *, refusal=None, status=200):
    return render_template("console/exams.html", periods=periods.period_list(), form=form or ExamUploadForm(),
                           action_form=ActionForm(), uploads=task_list(kind=KIND), refusal=refusal), status


@blp.get("/exams", endpoint="exams")
@staff_required
def exams_page():
    """Ispiti: the periods with show/hide, the upload form and the latest uploads."""
    return _page()


@blp.post("/exams/periods/<int:period_id>/show")
@staff_required
def exam_period_show(period_id):
    """Show a period in the app."""
    return _visibility_set(period_id, visible=True)


@blp.post("/exams/periods/<int:period_id>/hide")
@staff_required
def exam_period_hide(period_id):
    """Hide a period from the app."""
    return _visibility_set(period_id, visible=False)


def _visibility_set(period_id, *, visible):
    changes = periods.period_visibility_set(period_id=period_id, visible=visible,
                                            source=f"console:{current_console_user().id}")
    period = periods.period_get(period_id=period_id)
    audit_record("exam_period_show" if visible else "exam_period_hide", target=f"exam period {period_id}",
                 details={"name": period.name, "changed": not changes.empty})
    flash(f"Rok „{period.name}“ je {'vidljiv u aplikaciji' if visible else 'skriven'}.", "success")
    return redirect(url_for("console.exams"))


def _options(body):
    return {"period": body["period"], "year": body["year"], "start": body["start"], "end": body["end"],
            "visible": {"keep": None, "visible": True, "hidden": False}[body["visibility"]],
            "strict": body["strict"], "today": date.today()}


def _options_json(options):
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in options.items()}


def _options_load(params):
    return {key: date.fromisoformat(value) if key in ("start", "end", "today") and value else value
            for key, value in params.items()}


def match_table(report):
    """The dry run's report as JSON (stored with the planned task): the period and a row per readable line."""
    return {
        "period": report.period, "start": report.start_date.isoformat(), "end": report.end_date.isoformat(),
        "visible": report.visible, "rows_read": report.rows_read, "imported": report.imported,
        "counts": report.changes.counts, "warnings": report.warnings, "fingerprint": report.changes.fingerprint,
        "rows": [{"line": row.line, "name": row.name, "status": match.status, "course": match.course,
                  "score": match.score, "candidates": [[name, score] for name, score in match.candidates],
                  "date": row.date.isoformat(), "time": row.time, "classroom": row.classroom}
                 for row, match in report.matches],
    }


@blp.post("/exams/upload")
@staff_required
@takes_file
def exam_upload():
    """Check an exam-schedule file (a dry run, nothing imported) and show its match table."""
    form = ExamUploadForm()
    body = form_load(form, EXAM_UPLOAD, {key: value for key, value in {
        "period": form.period.data or "", "year": form.year.data or None, "start": form.start.data or None,
        "end": form.end.data or None, "visibility": form.visibility.data or "keep",
        "strict": bool(form.strict.data)}.items() if value is not None})
    text = upload_text(form)
    if body is None or text is None:
        return _page(form, status=422)
    options = _options(body)
    try:
        report = exam_import.exam_schedule_import(text=text, dry_run=True, **options)
    except ValidationFailed as exc:
        return _page(form, refusal={"message": exc.message, "lines": refusal_lines(exc.errors)}, status=422)
    name = upload_name(form)
    task = task_plan(kind=KIND, label=f"{name} → {report.period}", created_by=current_console_user(),
                     params=_options_json(options), input_text=text, plan=match_table(report))
    audit_record("exam_import_dry_run", target=f"task {task.id}",
                 details={"file": name, "period": report.period, "rows": report.rows_read,
                          "matched": report.imported})
    return redirect(url_for("console.exam_upload_review", task_id=task.id))


@blp.get("/exams/uploads/<int:task_id>")
@staff_required
def exam_upload_review(task_id):
    """A checked upload's match table, with confirm and cancel while it waits."""
    task = task_get(task_id=task_id, kind=KIND)
    return render_template("console/exam_upload.html", task=task, table=task.plan, form=ConfirmForm(),
                           status_texts=STATUS_TEXTS)


@blp.post("/exams/uploads/<int:task_id>/confirm")
@staff_required
def exam_upload_confirm(task_id):
    """Import the checked file (a job); its page follows."""
    form = ConfirmForm()
    inline_jobs_in_background()  # without Redis the import runs beside this request, not inside it
    task = task_start(task_id=task_id, kind=KIND, input_sha256=form.input_sha256.data or "")
    audit_record("exam_import_confirm", target=f"task {task.id}", details={"period": task.params.get("period")})
    return redirect(url_for("console.task_status", task_id=task.id))


@blp.post("/exams/uploads/<int:task_id>/cancel")
@staff_required
def exam_upload_cancel(task_id):
    """Drop a checked upload without importing it."""
    task_cancel(task_id=task_id, kind=KIND)
    audit_record("exam_import_cancel", target=f"task {task_id}")
    flash("Uvoz je otkazan; ništa nije upisano.", "success")
    return redirect(url_for("console.exams"))


@task_runner(KIND, page="console.exams")
def exam_import_run(task, progress):
    """The job: import the stored file with the options it was checked with."""
    options = _options_load(task.params)
    progress(0, 1)
    report = exam_import.exam_schedule_import(text=task.input_text, source=f"console:{task.created_by_id}",
                                              expected_fingerprint=task.plan.get("fingerprint"), **options)
    progress(1, 1)
    counts = report.changes.counts
    notes = [f"red {line}: „{name}“ {STATUS_TEXTS[status]}, nije uvezen (kandidati: "
             f"{exam_import.candidates_text(candidates)})"
             for status in ("unmatched", "ambiguous") for line, name, candidates in report.unmatched(status)]
    return {"summary": [["Ispitni rok", report.period], ["Vidljiv u aplikaciji", "da" if report.visible else "ne"],
                        ["Pročitano redova", report.rows_read], ["Uvezeno ispita", report.imported],
                        ["Novih", counts["created"]], ["Izmenjenih", counts["updated"]],
                        ["Uklonjenih", counts["removed"]]],
            "notes": notes + report.warnings, "period_id": report.period_id}
