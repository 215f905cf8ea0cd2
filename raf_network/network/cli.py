"""Operator commands of the alumni network (``flask network …``): ``import-portal`` reads the faculty's alumni
portal into the network (``portal_import``); ``link`` attaches an account to an imported profile."""
import sys

import click
from flask.cli import AppGroup

from raf_network.errors import ApiError, cli_errors
from raf_network.network.accounts import profile_link
from raf_network.network.demo import network_demo_seed
from raf_network.network.import_summary import report_counts, report_issues
from raf_network.network.portal_import import portal_import
from raf_network.network.schemas import display_name

network_cli = AppGroup("network", help="The alumni network: import from the alumni portal, link accounts to profiles.")


class FetchProgress:
    """A progress bar (on stderr, so the summary on stdout stays clean for scripts) over the people being fetched,
    opened once the portal's list says how many there are."""

    def __init__(self):
        self.bar = None
        self.shown = 0

    def __call__(self, done, total):
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="fetching alumni", show_pos=True, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@network_cli.command("import-portal")
@click.argument("url", required=False)
def import_portal_command(url):
    """Import everyone the alumni portal lists (URL, default ALUMNI_PORTAL_URL); safe to run again."""
    progress = FetchProgress()
    try:
        report = portal_import(url=url, progress=progress)
    except ApiError as error:
        progress.close()
        click.echo(f"error: {error.message}", err=True)
        for line in (error.errors or {}).get("failed", []):
            click.echo(f"  failed {line}", err=True)
        sys.exit(1)
    progress.close()
    _summary(report)


COUNT_LABELS = {"people": "people", "companies": "companies", "degrees": "degrees",
                "academic": "academic histories", "employment": "employment histories"}
ISSUE_LABELS = {"unreadable_dates": "unreadable dates", "failed": "failed fetches", "problems": "other problems"}


def _summary(report):
    echo = click.echo
    echo(f"imported from {report.url}: {report.listed} listed, {report.fetched} fetched, "
         f"{len(report.failed)} failed")
    for name, created, updated, removed in report_counts(report):
        text = f"{created} created, {updated} updated"
        echo(f"{COUNT_LABELS[name]}: {text}" + (f", {removed} removed" if removed is not None else ""))
    echo(f"pictures stored: {report.pictures_stored}")
    for name, lines in report_issues(report).items():
        echo(f"{ISSUE_LABELS[name]}: {len(lines)}")
        for line in lines:
            echo(f"  {line}")
    rate = report.fetched / (report.fetch_seconds + report.write_seconds or 1)
    echo(f"took {report.fetch_seconds:.2f} s fetching, {report.write_seconds:.2f} s writing ({rate:.0f} people/s)")


@network_cli.command("link")
@click.argument("email")
@click.argument("profile_id", type=click.IntRange(min=1))
@cli_errors
def link_command(email, profile_id):
    """Attach the account EMAIL to the imported profile PROFILE_ID (it keeps its history).

    If the account already has a profile of its own, its posts, comments and jobs move to the imported one and
    the empty profile is deleted."""
    profile, moved = profile_link(email=email, profile_id=profile_id)
    click.echo(f"linked {email.strip().lower()} to profile {profile.id} ({display_name(profile)}); moved "
               f"{moved['posts']} post(s), {moved['comments']} comment(s), {moved['jobs']} job(s)")


def demo_seed_run():
    """``flask seed``'s last step: the demo network, written only into an empty network."""
    summary = network_demo_seed()
    if summary is None:
        click.echo("network: not empty, demo network not written")
    else:
        click.echo("network: demo network written (sample data): " + ", ".join(
            f"{count} {name}" for name, count in summary.items()))
