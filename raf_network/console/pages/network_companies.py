"""Mreža → Kompanije (``/console/network/companies``): the network's companies with how many jobs and people name
each; rename one; merge a duplicate into the company it duplicates (its jobs move there, it is deleted: one
transaction). Through ``network.companies`` (``company_search``, ``company_rename``, ``company_merge``); the input is
loaded with ``CompanyRenameSchema`` / ``CompanyMergeSchema``. ``GET /api/companies`` shows the change at once.
"""
from flask import flash, redirect, render_template, request, url_for
from marshmallow import fields, validate
from wtforms import SelectField, StringField

from raf_network.console.audit import audit_record
from raf_network.console.auth import staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import ConsoleForm, form_load, message_translate, query_load
from raf_network.errors import ApiError
from raf_network.network import companies
from raf_network.network.schemas import CompanyMergeSchema, CompanyRenameSchema
from raf_network.schemas import PageQuerySchema

PAGE_SIZE = 25


class CompanyQuerySchema(PageQuerySchema):
    q = fields.String(load_default="", validate=validate.Length(max=100))
    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=100))


COMPANY_QUERY, COMPANY_RENAME, COMPANY_MERGE = CompanyQuerySchema(), CompanyRenameSchema(), CompanyMergeSchema()


class RenameForm(ConsoleForm):
    name = StringField("Novi naziv")


class MergeForm(ConsoleForm):
    source = SelectField("Duplikat (briše se)", choices=[], validate_choice=False)
    target = SelectField("Spaja se u kompaniju", choices=[], validate_choice=False)


def _list_args():
    return {key: value for key, value in request.args.items() if key in ("q", "page")}


def _page(*, merge=None, rename_error=None, status=200):
    query = query_load(COMPANY_QUERY)
    rows, total = companies.company_search(text=query["q"], page=query["page"], page_size=query["page_size"])
    merge = merge or MergeForm()
    choices = [("", "—")] + [(str(company_id), f"{name} (#{company_id})")
                             for company_id, name in companies.company_choices()]
    merge.source.choices = merge.target.choices = choices
    return render_template("console/network_companies.html", rows=rows, total=total, query=query, args=_list_args(),
                           merge=merge, rename_error=rename_error), status


@blp.get("/network/companies")
@staff_required
def network_companies():
    """Kompanije: search, rename, merge duplicates."""
    return _page()


@blp.post("/network/companies/<int:company_id>/rename")
@staff_required
def company_rename(company_id):
    """Give a company another name (not one another company has: merge those)."""
    form = RenameForm()
    name = form.name.data or ""
    body = form_load(form, COMPANY_RENAME, {"name": name})
    if body is None:
        return _page(rename_error=(company_id, name, form.name.errors or form.form_errors), status=422)
    try:
        company, before = companies.company_rename(company_id=company_id, name=body["name"])
    except ApiError as refusal:
        if refusal.code == 404:
            raise
        return _page(rename_error=(company_id, name, [message_translate(refusal.message)]), status=refusal.code)
    audit_record("company_rename", target=f"company {company.id}", details={"from": before, "to": company.name})
    flash(f"Kompanija „{before}” se sada zove „{company.name}”.", "success")
    return redirect(url_for("console.network_companies", **_list_args()))


@blp.post("/network/companies/merge")
@staff_required
def company_merge():
    """Merge a duplicate company into another: every job moves, the duplicate is deleted."""
    form = MergeForm()
    # "—" (nothing chosen) is a missing field: "Obavezno polje."
    chosen = {name: form[name].data for name in ("source", "target") if form[name].data}
    body = form_load(form, COMPANY_MERGE, chosen)
    if body is None:
        return _page(merge=form, status=422)
    try:
        source_name, target, moved = companies.company_merge(source_id=body["source"], target_id=body["target"])
    except ApiError as refusal:
        for name, messages in (refusal.errors or {}).items():
            if name in form:
                form[name].errors = [message_translate(message) for message in messages]
        form.form_errors.append(message_translate(refusal.message))
        return _page(merge=form, status=refusal.code)
    audit_record("company_merge", target=f"company {body['source']} → {target.id}",
                 details={"source": source_name, "target": target.name, "jobs": moved})
    flash(f"Kompanija „{source_name}” je spojena u „{target.name}” (premešteno zaposlenja: {moved}).", "success")
    return redirect(url_for("console.network_companies", **_list_args()))
