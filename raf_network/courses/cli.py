"""Operator commands for the catalogue: ``flask seed``, ``flask import-schedule`` and ``flask import-exams``.

Each reads its input (a path or an http(s) URL), calls one service and prints what it did; a refusal is a
non-zero exit status with the reasons, line by line.
"""
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from raf_network.courses import exam_import, seed
from raf_network.courses.csv_import import schedule_import
from raf_network.courses.sources import import_text_read
from raf_network.errors import cli_errors
from raf_network.network.cli import demo_seed_run


def _counts_line(counts):
    return f"created {counts['created']}, updated {counts['updated']}, removed {counts['removed']}"


@click.command("seed")
@click.option("--demo", is_flag=True, help="Allow the DEMO data set in production too (elsewhere it is the fallback).")
@with_appcontext
@cli_errors
def seed_command(demo):
    """Load the real RAF timetable and colloquium week from SEED_DATA_DIR, else labelled DEMO data (idempotent).

    In production, without the real files it refuses (unless --demo): load real data with import-schedule and
    import-exams instead."""
    try:  # (a real file that does not import is an ApiError: reported by cli_errors)
        report = seed.seed_run(demo_allowed=demo or current_app.config["ENV_NAME"] != "production")
    except seed.SeedDataMissing as exc:
        click.echo(f"error: {exc}; in production flask seed loads no DEMO data unless --demo is given. Load RAF's "
                   "files with flask import-schedule SOURCE and flask import-exams SOURCE --period NAME --visible.",
                   err=True)
        sys.exit(1)
    for note in report.notes:
        click.echo(note)
    click.echo(f"timetable: {_counts_line(report.timetable.counts)}")
    if report.exams is not None:
        _exam_report_print(report.exams, table=False)
    click.echo(f"in all: {_counts_line(report.counts)}")
    demo_seed_run()


@click.command("import-schedule")
@click.argument("source")
@click.option("--force", is_flag=True,
              help="Apply it even if it removes more than WEBHOOK_MAX_DELETE_SHARE of the live timetable.")
@with_appcontext
@cli_errors
def import_schedule_command(source, force):
    """Replace the timetable with a CSV in the RAF format (SOURCE: a path or an http(s) URL).

    A file with bad rows writes nothing; one removing more than WEBHOOK_MAX_DELETE_SHARE of the live timetable is
    refused unless --force (the webhook's mass-deletion guard)."""
    changes = schedule_import(text=import_text_read(source), force=force)
    click.echo(_counts_line(changes.counts))


@click.command("import-exams")
@click.argument("source")
@click.option("--period", required=True, help="The exam period's name; importing the same name again replaces it.")
@click.option("--year", type=click.IntRange(exam_import.YEAR_MIN, exam_import.YEAR_MAX),
              help="Calendar year of the DD.MM. dates (default: the current academic year's).")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day of the period (default: earliest date).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day of the period (default: latest date).")
@click.option("--visible/--hidden", default=None,
              help="Show the period in the app at once, or hide it (default: new periods hidden, others unchanged).")
@click.option("--dry-run", is_flag=True, help="Print the match table; write nothing.")
@click.option("--strict", is_flag=True, help="Refuse the whole file if any course name is unmatched or ambiguous.")
@with_appcontext
@cli_errors
def import_exams_command(source, period, year, start, end, visible, dry_run, strict):
    """Import one exam period from RAF's exam-schedule file (SOURCE: a path or an http(s) URL).

    Columns: course; teacher; classroom; time; day; date DD.MM. (semicolon-separated, as ../shared/data/
    kol_nedelja.csv). Course names are matched to the catalogue's; unmatched and ambiguous ones are reported with
    their line and best candidates and not imported. An unreadable row refuses the file: nothing is written.
    """
    report = exam_import.exam_schedule_import(
        text=import_text_read(source), period=period, year=year, start=_day(start), end=_day(end), visible=visible,
        dry_run=dry_run, strict=strict)
    _exam_report_print(report, table=dry_run)


def _day(moment):
    return moment.date() if moment is not None else None


def _exam_report_print(report, *, table):
    shown = "visible" if report.visible else "hidden"
    click.echo(f"{report.period} ({report.start_date} – {report.end_date}, {shown}): {report.rows_read} rows read, "
               f"{report.imported} entries {'would be imported' if report.dry_run else 'imported'}")
    if table:
        for row, match in report.matches:
            click.echo(f"  line {row.line:>3}  {row.date:%d.%m.%Y}  {row.name}  →  {_match_text(match)}")
    for status in ("unmatched", "ambiguous"):
        listed = report.unmatched(status)
        if listed:
            click.echo(f"  {status} ({len(listed)}), not imported:")
        for line, name, candidates in listed:
            click.echo(f"    line {line}: {name} — best candidates: {exam_import.candidates_text(candidates)}")
    if report.warnings:
        click.echo(f"  warnings ({len(report.warnings)}):")
    for warning in report.warnings:
        click.echo(f"    {warning}")
    prefix = "dry run, nothing written; it would have " if report.dry_run else "exams: "
    click.echo(prefix + _counts_line(report.changes.counts))


def _match_text(match):
    if match.status == "exact":
        return match.course
    if match.status == "fuzzy":
        return f"{match.course} (fuzzy, {match.score:g})"
    return match.status.upper()

