"""Mreža (``/console/network``): the alumni network's people — everyone, hidden ones included, by name or linked
account — hidden from the directory or shown again, and an imported profile linked to the account of its alumnus.
Its companies: ``network_companies``; the portal import it starts: ``network_import``.

Through ``network.moderation``: ``people_search`` and ``profile_hidden_set`` (the effect of the person's own
``PATCH /api/me/profile`` ``visible: false`` — out of ``GET /api/alumni-users`` and the company lists — as a flag of
its own, which the person cannot undo and a re-import keeps); and ``network.accounts.profile_link``
(``flask network link``). The network's cached responses are
retired with each change's commit.
"""
from flask import flash, redirect, render_template, request, url_for
from marshmallow import fields, validate
from wtforms import StringField

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import ConsoleForm, form_load, message_translate, query_load
from raf_network.console.tasks import task_list
from raf_network.errors import ApiError
from raf_network.network import moderation
from raf_network.network.accounts import profile_link
from raf_network.network.schemas import ProfileLinkSchema, display_name
from raf_network.schemas import PageQuerySchema

PAGE_SIZE = 25
IMPORT_KIND = "portal_import"
VISIBILITY_LABELS = {"visible": "vidljive", "hidden": "skrivene"}


class PeopleQuerySchema(PageQuerySchema):
    q = fields.String(load_default="", validate=validate.Length(max=100))
    visibility = fields.String(load_default="", validate=validate.OneOf(("", *moderation.VISIBILITIES)))
    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=100))


PEOPLE_QUERY, PROFILE_LINK = PeopleQuerySchema(), ProfileLinkSchema()


class LinkForm(ConsoleForm):
    email = StringField("E-adresa naloga")


def _list_args():
    # Back to the list as it was (search, filter and page), which each form carries along in its address.
    return {key: value for key, value in request.args.items() if key in ("q", "visibility", "page")}


def people_page_render(*, link_error=None, import_refused=None, status=200):
    """The people page as the query string asks for it; ``link_error``: ``(profile id, e-mail, messages)`` shown at
    that person; ``import_refused``: why a portal import was not started."""
    query = query_load(PEOPLE_QUERY)
    people, total = moderation.people_search(text=query["q"], visibility=query["visibility"] or None,
                                             page=query["page"], page_size=query["page_size"])
    return render_template("console/network.html", people=people, total=total, query=query, args=_list_args(),
                           visibility_labels=VISIBILITY_LABELS, display_name=display_name, link_error=link_error,
                           imports=task_list(kind=IMPORT_KIND, limit=5), import_refused=import_refused), status


@blp.get("/network", endpoint="network")
@staff_required
def network_page():
    """Mreža: the network's people, with hide/show and account linking, and the portal import."""
    return people_page_render()


@blp.post("/network/people/<int:profile_id>/hide")
@staff_required
def profile_hide(profile_id):
    """Hide a person from the directory and the company lists (the person cannot undo it)."""
    return _hidden_set(profile_id, hidden=True)


@blp.post("/network/people/<int:profile_id>/show")
@staff_required
def profile_show(profile_id):
    """Lift an officer's hiding (a person who hid themselves stays hidden)."""
    return _hidden_set(profile_id, hidden=False)


def _hidden_set(profile_id, *, hidden):
    profile, changed = moderation.profile_hidden_set(profile_id=profile_id, hidden=hidden)
    audit_record("profile_hide" if hidden else "profile_show", target=f"profile {profile.id}",
                 details={"name": display_name(profile), "changed": changed})
    name = display_name(profile) or "Osoba"
    if hidden:
        flash(f"{name} je skriven(a) u imeniku.", "success")
    elif profile.visible:
        flash(f"{name} je ponovo vidljiv(a) u imeniku.", "success")
    else:
        flash(f"{name} više nije skriven(a) službeno, ali je i dalje skriven(a) svojim izborom.", "success")
    return redirect(url_for("console.network", **_list_args()))


@blp.post("/network/people/<int:profile_id>/link")
@staff_required
def profile_account_link(profile_id):
    """Link an account (by e-mail) to an imported profile (``flask network link``)."""
    form = LinkForm()
    email = (form.email.data or "").strip()
    body = form_load(form, PROFILE_LINK, {"email": email})
    if body is None:
        return people_page_render(link_error=(profile_id, email, form.email.errors or form.form_errors), status=422)
    try:
        profile, moved = profile_link(email=body["email"], profile_id=profile_id,
                                      alumni_only=current_console_user().role != "admin")
    except ApiError as refusal:
        return people_page_render(link_error=(profile_id, email, [message_translate(refusal.message)]),
                                  status=refusal.code)
    audit_record("profile_link", target=f"profile {profile.id}",
                 details={"email": body["email"].strip().lower(), "name": display_name(profile), **moved})
    flash(f"Nalog {body['email'].strip().lower()} je povezan sa profilom {display_name(profile)} (premešteno objava: "
          f"{moved['posts']}, komentara: {moved['comments']}, zaposlenja: {moved['jobs']}).", "success")
    return redirect(url_for("console.network", **_list_args()))
