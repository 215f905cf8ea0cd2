"""Korisnici (``/console/users``): find accounts, change a role, disable or enable an account.

Through ``users.services``: ``user_search``, ``user_role_set`` and ``user_active_set`` with the signed-in staff
member as ``actor`` (only an admin grants the admin role or changes an admin's account; nobody changes their own).
A changed role or a disabled account ends that person's console sessions in the same commit, and a disabled one
their app sessions too.
"""
from flask import flash, redirect, render_template, request, url_for
from marshmallow import fields, validate
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import ConsoleForm, form_load, query_load
from raf_network.schemas import BaseSchema, PageQuerySchema
from raf_network.users import services
from raf_network.users.models import ROLES

PAGE_SIZE = 25
ROLE_LABELS = {"student": "student", "alumni": "alumni", "faculty_administrator": "službenik fakulteta",
               "admin": "administrator"}


class UserSearchSchema(PageQuerySchema):
    q = fields.String(load_default="", validate=validate.Length(max=100))
    role = fields.String(load_default="", validate=validate.OneOf(("", *ROLES)))
    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=100))


class RoleChangeSchema(BaseSchema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class ActiveChangeSchema(BaseSchema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))


USER_SEARCH, ROLE_CHANGE, ACTIVE_CHANGE = UserSearchSchema(), RoleChangeSchema(), ActiveChangeSchema()


class RoleForm(ConsoleForm):
    email = HiddenField()
    role = SelectField("Uloga", choices=[SelectChoice(role, ROLE_LABELS[role]) for role in ROLES])


class ActiveForm(ConsoleForm):
    email = HiddenField()


def _back():
    # Back to the list as it was (search and page), which the form carries along as ?q=…&page=….
    return redirect(url_for("console.users", **{key: value for key, value in request.args.items()
                                                if key in ("q", "role", "page")}))


@blp.get("/users", endpoint="users")
@staff_required
def users_page():
    """Korisnici: search, with a role and an enable/disable control per account."""
    query = query_load(USER_SEARCH)
    users, total = services.user_search(text=query["q"], role=query["role"] or None, page=query["page"],
                                        page_size=query["page_size"])
    actor = current_console_user()
    grantable = [role for role in ROLES if role != "admin" or actor.role == "admin"]
    return render_template("console/users.html", users=users, total=total, query=query, roles=ROLES,
                           role_labels=ROLE_LABELS, grantable=grantable, actor=actor)


@blp.post("/users/role")
@staff_required
def user_role_change():
    """Give an account another role (its console sessions end)."""
    form = RoleForm()
    body = form_load(form, ROLE_CHANGE, {"email": form.email.data or "", "role": form.role.data or ""})
    if body is None:
        flash("Uloga nije promenjena: " + " ".join(form.role.errors or form.email.errors or form.form_errors),
              "warning")
        return _back()
    before = services.user_by_email(email=body["email"]).role
    user = services.user_role_set(email=body["email"], role=body["role"], actor=current_console_user())
    audit_record("user_role_set", target=user.email, details={"from": before, "to": user.role})
    flash(f"{user.email} je sada {ROLE_LABELS[user.role]}.", "success")
    return _back()


@blp.post("/users/disable")
@staff_required
def user_disable():
    """Disable an account: every session of it (app and console) ends at once."""
    return _active_set(active=False)


@blp.post("/users/enable")
@staff_required
def user_enable():
    """Enable a disabled account again (it signs in anew)."""
    return _active_set(active=True)


def _active_set(*, active):
    form = ActiveForm()
    body = form_load(form, ACTIVE_CHANGE, {"email": form.email.data or ""})
    if body is None:
        flash("Nalog nije izabran.", "warning")
        return _back()
    user = services.user_active_set(email=body["email"], active=active, actor=current_console_user())
    audit_record("user_enable" if active else "user_disable", target=user.email)
    flash(f"Nalog {user.email} je {'omogućen' if active else 'onemogućen; sve njegove sesije su završene'}.",
          "success")
    return _back()
