"""Operator commands for notifications: ``flask notifications recover``."""
import click
from flask.cli import AppGroup

from raf_network.notifications.tasks import notifications_recover

notifications_cli = AppGroup("notifications", help="Push notifications: recover interrupted fan-outs.")


@notifications_cli.command("recover")
def recover_command():
    """Enqueue again the pushes a dead worker left unfinished (workers also do this when they start)."""
    notification_ids = notifications_recover()
    click.echo(f"{len(notification_ids)} interrupted push(es) enqueued again: {notification_ids}")
