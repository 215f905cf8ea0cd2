"""Raspored (``/console/timetable``): upload a timetable CSV (RAF's format, as ``flask import-schedule`` reads it)
→ the diff (created / updated old → new / removed entries, and how many people subscribed to the entries it
changes or removes) → confirm or cancel.

Through ``courses.timetable.timetable_dry_run`` (reads only) and ``courses.csv_import.schedule_import`` (in the
job), and ``notifications.catalogue_changes.timetable_change_audience`` — the people the change's notification
will reach. The mass-deletion guard is the webhook's (``courses.guards``): a file removing more than
``WEBHOOK_MAX_DELETE_SHARE`` of the live timetable is shown with a warning and is confirmed only with the explicit
"I know" checkbox (recorded in the audit log); the job checks the rule again against the timetable as it is then.
"""
from flask import flash, redirect, render_template, url_for
from wtforms import BooleanField

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp, takes_file
from raf_network.console.tasks import task_cancel, task_get, task_list, task_plan, task_runner, task_start
from raf_network.console.uploads import ConfirmForm, UploadFileForm, refusal_lines, upload_name, upload_text
from raf_network.courses.csv_import import schedule_import
from raf_network.courses.timetable import timetable_dry_run
from raf_network.errors import ValidationFailed
from raf_network.jobs import inline_jobs_in_background
from raf_network.notifications.catalogue_changes import timetable_change_audience

KIND = "timetable_import"
FIELD_LABELS = {"course": "predmet", "kind": "vrsta", "day": "dan", "start_time": "početak", "end_time": "kraj",
                "classroom": "sala", "groups": "grupe", "professor": "nastavnik"}
KIND_LABELS = {"P": "predavanja", "V": "vežbe", "D": "dodatne vežbe", "PiV": "predavanja i vežbe"}


class TimetableUploadForm(UploadFileForm):
    pass


class TimetableConfirmForm(ConfirmForm):
    force = BooleanField("Znam da ovaj raspored uklanja veliki deo postojećeg rasporeda i želim da ga primenim")


def _page(form=None, *, refusal=None, status=200):
    return render_template("console/timetable.html", form=form or TimetableUploadForm(),
                           uploads=task_list(kind=KIND), refusal=refusal), status


@blp.get("/timetable", endpoint="timetable")
@staff_required
def timetable_page():
    """Raspored: the upload form and the latest uploads."""
    return _page()


@blp.post("/timetable/upload")
@staff_required
@takes_file
def timetable_upload():
    """Check a timetable CSV (a dry run, nothing written) and show its diff."""
    form = TimetableUploadForm()
    text = upload_text(form)
    if text is None:
        return _page(form, status=422)
    try:
        dry_run = timetable_dry_run(text=text)
    except ValidationFailed as exc:
        return _page(form, refusal={"message": exc.message, "lines": refusal_lines(exc.errors)}, status=422)
    diff = dry_run.to_json()
    diff["audience"] = len(timetable_change_audience(changes=dry_run.plan.changes.to_json()))
    diff["fingerprint"] = dry_run.plan.changes.fingerprint  # the confirmed job must do exactly this
    name = upload_name(form)
    task = task_plan(kind=KIND, label=f"{name} → raspored", created_by=current_console_user(), params={},
                     input_text=text, plan=diff)
    audit_record("timetable_import_dry_run", target=f"task {task.id}",
                 details={"file": name, **diff["counts"], "audience": diff["audience"],
                          "over_limit": diff["over_limit"]})
    return redirect(url_for("console.timetable_upload_review", task_id=task.id))


def _review(task, form, *, status=200):
    return render_template("console/timetable_upload.html", task=task, diff=task.plan, form=form,
                           field_labels=FIELD_LABELS, kind_labels=KIND_LABELS), status


@blp.get("/timetable/uploads/<int:task_id>")
@staff_required
def timetable_upload_review(task_id):
    """A checked timetable's diff, with confirm (and the "I know" box when it removes too much) and cancel."""
    return _review(task_get(task_id=task_id, kind=KIND), TimetableConfirmForm())


@blp.post("/timetable/uploads/<int:task_id>/confirm")
@staff_required
def timetable_upload_confirm(task_id):
    """Apply the checked timetable (a job); its page follows."""
    form = TimetableConfirmForm()
    task = task_get(task_id=task_id, kind=KIND)
    force = bool(form.force.data)
    if task.plan.get("over_limit") and not force and task.state == "planned":
        form.force.errors = ["Ovaj raspored uklanja više od dozvoljenog dela postojećeg; potvrdite da to znate."]
        return _review(task, form, status=409)
    inline_jobs_in_background()  # without Redis the import runs beside this request, not inside it
    task = task_start(task_id=task_id, kind=KIND, input_sha256=form.input_sha256.data or "",
                      params={"force": force})
    audit_record("timetable_import_confirm", target=f"task {task.id}",
                 details={"force": force, "over_limit": task.plan.get("over_limit"), **task.plan.get("counts", {})})
    return redirect(url_for("console.task_status", task_id=task.id))


@blp.post("/timetable/uploads/<int:task_id>/cancel")
@staff_required
def timetable_upload_cancel(task_id):
    """Drop a checked timetable without applying it."""
    task_cancel(task_id=task_id, kind=KIND)
    audit_record("timetable_import_cancel", target=f"task {task_id}")
    flash("Uvoz rasporeda je otkazan; ništa nije upisano.", "success")
    return redirect(url_for("console.timetable"))


@task_runner(KIND, page="console.timetable")
def timetable_import_run(task, progress):
    """The job: replace the timetable with the stored file; the mass-deletion guard is checked again now."""
    progress(0, 1)
    changes = schedule_import(text=task.input_text, source=f"console:{task.created_by_id}",
                              force=bool(task.params.get("force")),
                              remedy="Upload it again and confirm with \"I know\" if the timetable really shrank.",
                              expected_fingerprint=task.plan.get("fingerprint"))
    progress(1, 1)
    counts = changes.counts
    return {"summary": [["Novih stavki", counts["created"]], ["Izmenjenih stavki", counts["updated"]],
                        ["Uklonjenih stavki", counts["removed"]]],
            "notes": [] if not changes.empty else ["Raspored je već bio ovakav; ništa nije promenjeno."]}
