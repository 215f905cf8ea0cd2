"""Mreža's portal import: ``Pokreni uvoz`` starts ``network.portal_import`` (``flask network import-portal``) from
``ALUMNI_PORTAL_URL`` as a console task (a job: RQ with Redis, else a background thread), refused (409) while one
runs; the task's page shows the people fetched so far, then the counts and what could not be used — the pieces
``flask network import-portal`` prints (``network.import_summary``), in Serbian. A portal that cannot be read
(``PortalUnavailable``) fails the task with its message, having written nothing.
"""
from flask import current_app, flash, redirect, url_for

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp
from raf_network.console.pages.network import IMPORT_KIND, people_page_render
from raf_network.console.tasks import task_runner, task_start_new
from raf_network.errors import Conflict
from raf_network.jobs import inline_jobs_in_background
from raf_network.network.import_summary import report_counts, report_issues
from raf_network.network.portal_import import portal_import

COUNT_LABELS = {"people": "Osobe", "companies": "Kompanije", "degrees": "Zvanja", "academic": "Studije",
                "employment": "Zaposlenja"}
ISSUE_LABELS = {"unreadable_dates": "Nečitljiv datum", "failed": "Neuspelo preuzimanje", "problems": "Problem"}
MAX_NOTES = 300  # a portal of thousands may report many; the counts say how many in all


@task_runner(IMPORT_KIND, page="console.network")
def portal_import_run(task, progress):
    """The console task: the import, its progress (people fetched), and its outcome for the task's page."""
    return import_outcome(portal_import(url=task.params.get("url"), progress=progress))


def import_outcome(report):
    """An ``ImportReport`` as the task page shows it: ``{"summary": [[label, value]], "notes": [text]}``."""
    summary = [["Portal", report.url], ["Na spisku portala", report.listed], ["Preuzeto", report.fetched],
               ["Neuspelo preuzimanje", len(report.failed)]]
    for name, created, updated, removed in report_counts(report):
        text = f"dodato {created}, izmenjeno {updated}" + (f", uklonjeno {removed}" if removed is not None else "")
        summary.append([COUNT_LABELS[name], text])
    issues = report_issues(report)
    summary += [["Sačuvane slike", report.pictures_stored],
                ["Nečitljivi datumi", len(issues["unreadable_dates"])], ["Ostali problemi", len(issues["problems"])],
                ["Trajanje", f"{report.fetch_seconds + report.write_seconds:.1f} s"]]
    notes = [f"{ISSUE_LABELS[name]}: {line}" for name, lines in issues.items() for line in lines]
    if len(notes) > MAX_NOTES:
        notes = notes[:MAX_NOTES] + [f"… i još {len(notes) - MAX_NOTES}"]
    return {"summary": summary, "notes": notes}


@blp.post("/network/import")
@staff_required
def portal_import_start():
    """Start the portal import as a background task and open its page."""
    url = current_app.config["ALUMNI_PORTAL_URL"]
    inline_jobs_in_background()  # without Redis the import runs beside this request, not inside it
    try:
        task = task_start_new(kind=IMPORT_KIND, label="Uvoz sa alumni portala", created_by=current_console_user(),
                              params={"url": url})
    except Conflict:
        return people_page_render(import_refused="Uvoz sa portala je već u toku; sačekajte da se završi.",
                                  status=409)
    audit_record("portal_import_start", target=f"task {task.id}", details={"url": url})
    flash("Uvoz sa alumni portala je pokrenut.", "success")
    return redirect(url_for("console.task_status", task_id=task.id))
