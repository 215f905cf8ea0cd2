"""Operator commands: ``flask users create|token|set-role|disable|enable|clear-google-sub|list|prune-devices|
console-link``, calling the users services (and the console's, for its one-time sign-in links)."""
import click
from flask import current_app
from flask.cli import AppGroup

from raf_network.errors import cli_errors
from raf_network.users import devices, services
from raf_network.users.models import ROLES

users_cli = AppGroup("users", help="Manage accounts: create, roles, tokens, disable, Google account.")
ROLE_CHOICE = click.Choice(ROLES)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@cli_errors
def create_command(email, role, first_name, last_name):
    """Create an account with a role chosen by the operator (sign-in will never change it)."""
    user = services.user_create(email=email, role=role, first_name=first_name, last_name=last_name)
    click.echo(f"created user {user.id} {user.email} ({user.role})")


@users_cli.command("token")
@click.argument("email")
@cli_errors
def token_command(email):
    """Print a fresh access token (a new session) for the account, and nothing else."""
    click.echo(services.user_token_issue(email=email))


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
@cli_errors
def set_role_command(email, role):
    """Set an account's role; sign-in never changes it afterwards."""
    user = services.user_role_set(email=email, role=role)
    click.echo(f"{user.email} is now {user.role}")


@users_cli.command("disable")
@click.argument("email")
@cli_errors
def disable_command(email):
    """Disable an account and end all its sessions at once."""
    user = services.user_active_set(email=email, active=False)
    click.echo(f"{user.email} disabled; its sessions are revoked")


@users_cli.command("enable")
@click.argument("email")
@cli_errors
def enable_command(email):
    """Re-enable a disabled account (it signs in again; old sessions stay revoked)."""
    user = services.user_active_set(email=email, active=True)
    click.echo(f"{user.email} enabled")


@users_cli.command("console-link")
@click.argument("email")
@cli_errors
def console_link_command(email):
    """Print a one-time link that signs EMAIL (a faculty administrator or admin) in to the officers' console, once,
    within 15 minutes; the URL is the last line. Any other role is refused (exit 1)."""
    from raf_network.console.auth import LINK_LIFETIME, console_link_create

    url = console_link_create(email=email)
    click.echo(f"one-time console sign-in link for {email.strip().lower()}, valid for "
               f"{int(LINK_LIFETIME.total_seconds() // 60)} minutes, usable once:")
    click.echo(url)


@users_cli.command("clear-google-sub")
@click.argument("email")
@cli_errors
def clear_google_sub_command(email):
    """Forget the Google account recorded at first sign-in, so the next sign-in for EMAIL (e.g. an address
    the domain re-created) is accepted and recorded. Check who owns the address first."""
    user, previous = services.user_google_sub_clear(email=email)
    click.echo(f"{user.email}: Google account {previous or '(none recorded)'} forgotten; the next sign-in records "
               "its own")


@users_cli.command("list")
@cli_errors
def list_command():
    """List accounts: id, e-mail, role (* = set by an operator), student number, state."""
    for user in services.user_list():
        role = user.role + ("*" if user.role_set_by_admin else "")
        state = "active" if user.is_active else "disabled"
        click.echo(f"{user.id}\t{user.email}\t{role}\t{user.student_number or '-'}\t{state}")


@users_cli.command("prune-devices")
@click.option("--days", type=click.IntRange(min=1), help="Override DEVICE_STALE_DAYS (default 60).")
def prune_devices_command(days):
    """Remove devices not seen for DEVICE_STALE_DAYS days: their tokens are most likely dead. Run it daily."""
    removed = devices.devices_prune(days=days or current_app.config["DEVICE_STALE_DAYS"])
    click.echo(f"removed {removed} stale device(s)")
