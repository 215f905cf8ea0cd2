"""Operator commands for the webhook: ``flask webhook sign | send | replay``."""
import json
import sys
import time
import uuid

import click
from flask import current_app
from flask.cli import AppGroup

from raf_network.errors import ApiError
from raf_network.webhook import services

webhook_cli = AppGroup("webhook", help="Sign, send and replay course-service webhook deliveries.")

SECRET_HELP = "whsec_<base64> secret to sign with (default: the first of WEBHOOK_SECRET)."


def _signed_headers(body, secret):
    webhook_id = "msg_" + uuid.uuid4().hex
    timestamp = str(int(time.time()))
    signature = services.signature_sign(webhook_id=webhook_id, timestamp=timestamp, body=body,
                                        secret=secret or current_app.config.get("WEBHOOK_SECRET"))
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


@webhook_cli.command("sign")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--secret", help=SECRET_HELP)
def sign_command(path, secret):
    """Print the three Standard Webhooks headers for the file's exact bytes (valid for 5 minutes)."""
    with open(path, "rb") as handle:
        body = handle.read()
    for name, value in _signed_headers(body, secret).items():
        click.echo(f"{name}: {value}")


@webhook_cli.command("send")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", required=True, help="e.g. http://127.0.0.1:5000/api/webhooks/courses")
@click.option("--secret", help=SECRET_HELP)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the answer.")
def send_command(path, url, secret, timeout):
    """Sign the file and POST it; prints the answer. Exits 1 unless the answer is 2xx."""
    import requests

    with open(path, "rb") as handle:
        body = handle.read()
    headers = {"Content-Type": "application/json", **_signed_headers(body, secret)}
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{response.status_code} {response.reason}")
    click.echo(response.text.rstrip())
    if not response.ok:
        sys.exit(1)


@webhook_cli.command("replay")
@click.argument("delivery_id", type=int)
@click.option("--force", is_flag=True, help="Apply even if it removes more than WEBHOOK_MAX_DELETE_SHARE.")
def replay_command(delivery_id, force):
    """Re-apply a stored delivery's body, through the same service as the endpoint (recorded anew)."""
    try:
        outcome = services.delivery_replay(delivery_id=delivery_id, force=force)
    except ApiError as exc:
        click.echo(f"error ({exc.code}): {exc.message}", err=True)
        if exc.errors:
            click.echo(json.dumps(exc.errors, indent=2, ensure_ascii=False), err=True)
        sys.exit(1)
    click.echo(f"delivery {outcome.delivery} {outcome.status}: created {outcome.created}, "
               f"updated {outcome.updated}, removed {outcome.removed}")
