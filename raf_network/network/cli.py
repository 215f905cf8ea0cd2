"""Operator commands of the alumni network: ``flask network …``."""
import sys

import click
from flask.cli import AppGroup

from raf_network.errors import ApiError
from raf_network.network.accounts import profile_link
from raf_network.network.demo import network_demo_seed
from raf_network.network.schemas import display_name

network_cli = AppGroup("network", help="The alumni network: link accounts to imported profiles, import the portal.")


@network_cli.command("link")
@click.argument("email")
@click.argument("profile_id", type=click.IntRange(min=1))
def link_command(email, profile_id):
    """Attach the account EMAIL to the imported profile PROFILE_ID (it keeps its history).

    If the account already has a profile of its own, its posts, comments and jobs move to the imported one and
    the empty profile is deleted."""
    try:
        profile, moved = profile_link(email=email, profile_id=profile_id)
    except ApiError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
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
