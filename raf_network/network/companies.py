"""The network's companies as officers look after them (the console's Mreža): find them with how many jobs name each,
rename one, merge a duplicate into the company it duplicates. Also the one rule for "the company of that name"
(``company_by_name``: names compared casefolded), which a person's job entered by name uses too.

Merging moves every job of the duplicate to the other company and deletes the duplicate, in one transaction. A
company imported from the alumni portal is known to the next import by its portal id: merged into a company of no
portal id, that company takes the id (the import then keeps the people together, under the portal's name); two
portal companies cannot be merged here (the next import would split them again). Renaming an imported company holds
until the next import, which brings the portal's name back. Every change retires the network's cached responses
with its commit (``network_changed``), only when something changed.
"""
from sqlalchemy import distinct, func, select, update

from raf_network.errors import Conflict, NotFound, ValidationFailed
from raf_network.extensions import db
from raf_network.network.freshness import network_changed
from raf_network.network.models import Company, EmploymentHistory


def company_by_name(name):
    """The company called ``name`` (casefolded, so "HTEC group" is "HTEC Group"), or None. Companies are few
    (hundreds): compared in Python, with the same casefolding on every database."""
    folded = name.casefold()
    for candidate in db.session.scalars(select(Company).order_by(Company.id)):
        if candidate.name.casefold() == folded:
            return candidate
    return None


def company_search(*, text="", page=1, page_size=25):
    """A page of companies whose name contains ``text`` (case-insensitive), by name, each with the number of jobs
    and of people naming it: ``([(company, jobs, people)], total)``, two queries."""
    conditions = [func.lower(Company.name).contains(text.strip().lower(), autoescape=True)] if text.strip() else []
    total = db.session.scalar(select(func.count()).select_from(Company).where(*conditions))
    rows = db.session.execute(
        select(Company, func.count(EmploymentHistory.id), func.count(distinct(EmploymentHistory.profile_id)))
        .outerjoin(EmploymentHistory, EmploymentHistory.company_id == Company.id)
        .where(*conditions)
        .group_by(Company.id)
        .order_by(func.lower(Company.name), Company.id)
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    return [tuple(row) for row in rows], total


def company_choices():
    """Every company as ``(id, name)``, by name (one query): what a merge can choose from."""
    return [tuple(row) for row in db.session.execute(
        select(Company.id, Company.name).order_by(func.lower(Company.name), Company.id))]


def company_rename(*, company_id, name):
    """Rename a company (``name`` already validated). NotFound for an unknown one; Conflict when another company
    has that name (merge them instead). Commits."""
    company = db.session.get(Company, company_id)
    if company is None:
        raise NotFound(f"no company with id {company_id}")
    same = company_by_name(name)
    if same is not None and same.id != company.id:
        raise Conflict(f"another company is called {same.name!r} (id {same.id}); merge the two instead",
                       errors={"name": [f"company {same.id} has this name"]})
    before = company.name
    if before != name:
        company.name = name
        network_changed()
    db.session.commit()
    return company, before


def company_merge(*, source_id, target_id):
    """Move every job of company ``source_id`` to ``target_id`` and delete the source, in one transaction.
    Returns ``(the source's name, target, jobs moved)``. Refused, nothing written: the same company twice
    (Conflict), an unknown id (ValidationFailed, at ``source`` / ``target``), two companies imported from the portal
    (Conflict)."""
    if source_id == target_id:
        raise Conflict("a company cannot be merged into itself", errors={"target": ["the same company as source"]})
    found = {company.id: company for company in
             db.session.scalars(select(Company).where(Company.id.in_((source_id, target_id))))}
    missing = {name: [f"no company with id {company_id}"]
               for name, company_id in (("source", source_id), ("target", target_id)) if company_id not in found}
    if missing:
        raise ValidationFailed("no such company", errors=missing)
    source, target = found[source_id], found[target_id]
    if source.portal_id is not None and target.portal_id is not None:
        raise Conflict("both companies come from the alumni portal, whose next import would split them again; "
                       "merge them in the portal", errors={"source": ["imported from the alumni portal"]})
    moved = db.session.execute(
        update(EmploymentHistory).where(EmploymentHistory.company_id == source.id)
        .values(company_id=target.id), execution_options={"synchronize_session": False}).rowcount
    portal_id, source_name = source.portal_id, source.name
    db.session.delete(source)
    db.session.flush()  # the portal id is free before the target takes it
    if portal_id is not None:
        target.portal_id = portal_id
    network_changed()
    db.session.commit()
    return source_name, target, moved
