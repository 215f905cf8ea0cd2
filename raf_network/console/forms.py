"""Form bases of the console (Flask-WTF: a CSRF token in every form).

The fields only render and carry the input: what is valid is decided by the same marshmallow schemas the API loads
its bodies with (``form_load``), so a rule exists once. Their messages are shown in Serbian where we know them.
"""
from flask import request
from flask_wtf import FlaskForm
from marshmallow import ValidationError
from wtforms import TextAreaField

from raf_network.errors import ValidationFailed

# marshmallow's and raf_network.schemas' messages → what an officer reads.
MESSAGES = {
    "Missing data for required field.": "Obavezno polje.",
    "Must not be blank.": "Polje ne sme biti prazno.",
    "Not a valid string.": "Neispravna vrednost.",
    "Not a valid integer.": "Unesite ceo broj.",
    "Not a valid boolean.": "Neispravna vrednost.",
    "Unknown field.": "Nepoznato polje.",
    "Not a valid email address.": "Unesite ispravnu e-adresu.",
    "only an admin may link an account whose role is not alumni to an alumnus's profile":
        "Samo administrator može da poveže sa profilom alumniste nalog koji nije alumni nalog.",
    "Control characters are not allowed.": "Kontrolni znakovi nisu dozvoljeni.",
    "Control characters are not allowed (line breaks and tabs are).": "Kontrolni znakovi nisu dozvoljeni "
                                                                       "(novi redovi i tabovi jesu).",
}


def message_translate(message):
    if message.startswith("Longer than maximum length "):
        return f"Najviše {message.removeprefix('Longer than maximum length ').rstrip('.')} znakova."
    if message.startswith("Must be one of: "):
        return "Izaberite jednu od ponuđenih vrednosti."
    return MESSAGES.get(message, message)


class ConsoleForm(FlaskForm):
    """Every console form: Flask-WTF's CSRF token (``{{ form.csrf_token }}``)."""


class MultilineField(TextAreaField):
    """A textarea whose line breaks are stored as the app sends them (``\\n``): browsers submit ``\\r\\n``."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = self.data.replace("\r\n", "\n").replace("\r", "\n")


class ActionForm(ConsoleForm):
    """A button that changes something (delete, disable …): no fields but the CSRF token."""


def _messages(messages):
    if isinstance(messages, dict):  # a nested schema's errors: flatten them under the field
        return [text for value in messages.values() for text in _messages(value)]
    return [message_translate(str(message)) for message in messages]


def form_load(form, schema, data):
    """``schema.load(data)``, or None with each problem attached to its form field (and to ``form.form_errors``
    when no field has that name)."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        for name, messages in errors.items():
            if name in form:
                form[name].errors = _messages(messages)
            else:
                form.form_errors.append(" ".join(_messages(messages)))
        return None


def query_load(schema):
    """A page's query string (``?page=2``) through ``schema``; anything else in it is a 422 page, as in the API."""
    try:
        return schema.load(request.args)
    except ValidationError as exc:
        raise ValidationFailed("the address has parameters this page does not take", errors=exc.messages) from None
