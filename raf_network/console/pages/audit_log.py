"""Dnevnik (``/console/audit``): every console action — who, what, on what, when, from where — newest first,
a page at a time (``console.audit``)."""
from flask import render_template
from marshmallow import fields, validate

from raf_network.console.audit import audit_page
from raf_network.console.auth import staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import query_load
from raf_network.schemas import PageQuerySchema

PAGE_SIZE = 50
# What an action is called on the page (unknown ones, e.g. from pages added later, show as recorded).
ACTION_LABELS = {
    "sign_in": "prijava", "sign_out": "odjava",
    "post_create": "nova objava", "post_delete": "brisanje objave", "comment_delete": "brisanje komentara",
    "broadcast_dry_run": "provera dometa obaveštenja", "broadcast_send": "slanje obaveštenja",
    "user_role_set": "promena uloge", "user_disable": "onemogućen nalog", "user_enable": "omogućen nalog",
    "delivery_replay": "ponovljena isporuka",
    "profile_hide": "skrivena osoba", "profile_show": "prikazana osoba", "profile_link": "povezan nalog sa profilom",
    "company_rename": "preimenovana kompanija", "company_merge": "spojene kompanije",
    "portal_import_start": "pokrenut uvoz sa portala",
}


class AuditPageSchema(PageQuerySchema):
    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=100))


AUDIT_PAGE = AuditPageSchema()


@blp.get("/audit", endpoint="audit_log")
@staff_required
def audit_log_page():
    """Dnevnik: the audit log, newest first."""
    query = query_load(AUDIT_PAGE)
    entries, total = audit_page(page=query["page"], page_size=query["page_size"])
    return render_template("console/audit_log.html", entries=entries, total=total, query=query,
                           labels=ACTION_LABELS)
