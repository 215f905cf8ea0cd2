"""What the upload pages (Ispiti, Raspored) share: the form bits of an upload and its confirmation, the uploaded
file's text (decoded as ``flask import-*`` decodes a file: ``courses.sources.import_text_decode``), and a
service's refusal as lines a person can read.

The flow itself is ``console.tasks``: the dry run is stored as a planned task, confirming it (with the stored
file's sha256, carried by the confirmation form) queues it once, cancelling drops it.
"""
from flask import current_app
from flask_wtf.file import FileField
from wtforms import HiddenField

from raf_network.console.forms import ConsoleForm
from raf_network.courses.sources import SourceUnreadable, import_text_decode


class UploadFileForm(ConsoleForm):
    """An upload: its file field (pages add their options)."""

    file = FileField("Datoteka (CSV)")


class ConfirmForm(ConsoleForm):
    """Confirm (or cancel) a planned upload: the sha256 of the file the officer saw checked."""

    input_sha256 = HiddenField()


def upload_text(form):
    """The uploaded file's text, or None with the problem on ``form.file`` (no file, larger than IMPORT_MAX_BYTES
    as ``flask import-*`` refuses it, not UTF-8). The view must be marked ``blueprint.takes_file``."""
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        form.file.errors = ["Izaberite datoteku."]
        return None
    limit = current_app.config["IMPORT_MAX_BYTES"]
    raw = storage.read(limit + 1)
    if len(raw) > limit:
        form.file.errors = [f"Datoteka je veća od {limit / 1024 / 1024:.1f} MB (IMPORT_MAX_BYTES)."]
        return None
    try:
        return import_text_decode(raw, name=storage.filename)
    except SourceUnreadable as exc:
        form.file.errors = ["Datoteka nije tekst u kodnom rasporedu UTF-8; sačuvajte je kao UTF-8 i pokušajte "
                            f"ponovo. ({exc.message})"]
        return None


def upload_name(form):
    return (getattr(form.file.data, "filename", "") or "datoteka")[:100]


def refusal_lines(errors):
    """A service's ``errors`` (lists by key, possibly nested: ``{"rows": ["line 3: …"]}``,
    ``{"schedule": {4: {"end": ["…"]}}}``) as ``[(where, message)]``."""
    lines = []

    def walk(where, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{where}.{key}" if where else str(key), inner)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(where, item)
        else:
            lines.append((where, str(value)))

    walk("", errors or {})
    return lines
