"""Operator commands for the catalogue: ``flask seed`` and ``flask import-schedule``."""
import sys

import click
from flask.cli import with_appcontext

from raf_network.courses import services
from raf_network.errors import ValidationFailed
from raf_network.network.cli import demo_seed_run


def _report(changes):
    counts = changes.counts
    click.echo(f"created {counts['created']}, updated {counts['updated']}, removed {counts['removed']}")


@click.command("seed")
@with_appcontext
def seed_command():
    """Load the bundled real RAF timetable and a sample exam period, and a demo alumni network into an empty
    network (idempotent)."""
    _report(services.seed_run())
    demo_seed_run()


@click.command("import-schedule")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_schedule_command(path):
    """Replace the timetable with a CSV file in the RAF format. A file with bad rows writes nothing."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        changes = services.schedule_import(text=text)
    except ValidationFailed as exc:
        click.echo(f"error: {exc.message}", err=True)
        for row_error in (exc.errors or {}).get("rows", []):
            click.echo(f"  {row_error}", err=True)
        sys.exit(1)
    _report(changes)
