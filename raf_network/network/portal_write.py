"""The alumni portal import's write phase: what ``portal_import`` fetched, made the network's rows in one
transaction with a constant number of statements per table whatever the number of people (bulk INSERT … RETURNING,
UPDATE by primary key grouped by the columns that changed, DELETE … IN; never one ORM flush per row). Only what
differs is written; a person's own edits (``Profile.edited_fields``) and the jobs they entered (``source = "self"``)
are never touched.
"""
import logging
import math
from collections import defaultdict
from datetime import date

from sqlalchemy import delete, insert, select, update

from raf_network.extensions import db
from raf_network.network.dates import MIN_YEAR, UnreadableDate, month_date_parse
from raf_network.network.linkedin import linkedin_handle
from raf_network.network.models import (
    STUDY_KINDS,
    STUDY_LEVELS,
    AcademicDegree,
    AcademicHistory,
    Company,
    EmploymentHistory,
    Media,
    Profile,
)

log = logging.getLogger(__name__)

# Keys per IN (…) list: well under SQLite's bound on parameters per statement.
IN_CHUNK = 500
# The profile columns the portal owns, and the column each self-editable field (models.SELF_EDITABLE) is stored in.
PROFILE_COLUMNS = ("first_name", "last_name", "biography", "social_id_1", "picture_key")
COLUMN_OF_EDITED = {"biography": "biography", "social_id_1": "social_id_1", "picture": "picture_key"}
ACADEMIC_COLUMNS = ("degree_id", "student_number", "start_date", "end_date", "thesis_title", "thesis_date", "mentor",
                    "commission")
EMPLOYMENT_COLUMNS = ("company_id", "role", "start_date", "end_date")
# Bulk INSERTs send None as NULL instead of leaving the column out: every row then has the same columns, so the
# whole list goes to the database in one batched statement instead of one per distinct set of columns.
ALL_COLUMNS = {"render_nulls": True}


def portal_write(*, fetched, report):
    """Write what was fetched (no commit: ``portal_import`` commits once)."""
    company_ids = _companies_sync(fetched.companies, report.companies)
    studies = {item.person.id: _studies_plan(item.person, fetched.programmes, report) for item in fetched.people}
    degree_ids = _degrees_sync(studies, fetched.programmes, report.degrees)
    report.pictures_stored = _media_store([item.picture for item in fetched.people if item.picture])
    profile_ids = _profiles_sync(fetched.people, report)
    _academic_sync(fetched.people, studies, profile_ids, degree_ids, report.academic)
    _employment_sync(fetched.people, profile_ids, company_ids, report)


def _rows_sync(model, *, key, existing, desired, columns, counts):
    """Make ``model``'s rows match ``desired`` ({key tuple: values}); ``existing``: {key tuple: row mapping with
    ``id``}. Missing rows are inserted (one INSERT … RETURNING); rows whose ``columns`` differ are updated, each with
    only what changed (UPDATE by primary key, one executemany per set of changed columns). Returns {key: id}."""
    ids = {row_key: row["id"] for row_key, row in existing.items()}
    inserts = [values for row_key, values in desired.items() if row_key not in existing]
    updates = []
    for row_key, values in desired.items():
        row = existing.get(row_key)
        if row is not None:
            changed = {column: values[column] for column in columns if row[column] != values[column]}
            if changed:
                updates.append({"id": row["id"], **changed})
    if inserts:
        key_columns = [getattr(model, name) for name in key]
        for row in db.session.execute(insert(model).returning(model.id, *key_columns), inserts,
                                      execution_options=ALL_COLUMNS):
            ids[tuple(row[1:])] = row[0]
    _rows_update(model, updates)
    counts.created += len(inserts)
    counts.updated += len(updates)
    return ids


def _rows_update(model, updates):
    """UPDATE by primary key, one executemany per set of changed columns. SQLAlchemy batches consecutive rows with
    the same columns only, so rows are ordered by their columns first (else alternating sets go one by one)."""
    if updates:
        db.session.execute(update(model), sorted(updates, key=lambda row: sorted(row)))


def _companies_sync(companies, counts):
    existing = {(row["portal_id"],): row for row in db.session.execute(
        select(Company.id, Company.portal_id, Company.name).where(Company.portal_id.is_not(None))).mappings()}
    desired = {(portal_id,): {"portal_id": portal_id, "name": name} for portal_id, name in companies.items()}
    ids = _rows_sync(Company, key=("portal_id",), existing=existing, desired=desired, columns=("name",),
                     counts=counts)
    return {row_key[0]: company_id for row_key, company_id in ids.items()}


def _studies_plan(person, programmes, report):
    """{kind: values} for the person's studies that can be written; the others are reported (and left as they
    were). The degree is named by its key (programme id, title) until degrees are written."""
    planned = {}
    for kind in STUDY_KINDS:
        study = person.studies.get(kind)
        if study is None:
            continue
        programme = programmes.get(study.programme_id)
        if programme is None:
            report.problems.append((person.id, f"studije.{kind}: unknown study programme {study.programme_id!r}; "
                                               "that study is not imported"))
            continue
        start = _study_start(study, programme, person, kind, report)
        if start is None:
            report.problems.append((person.id, f"studije.{kind}: neither an enrolment year nor a graduation date to "
                                               "derive the start from; that study is not imported"))
            continue
        planned[kind] = {
            "degree": (programme.id, study.title), "kind": kind, "student_number": study.student_number,
            "start_date": start, "end_date": study.graduated_on, "thesis_title": study.thesis_title,
            # The portal has no separate defence date: a thesis is defended on graduation.
            "thesis_date": study.graduated_on if study.thesis_title else None,
            "mentor": study.mentor, "commission": list(study.commission),
        }
    return planned


def _study_start(study, programme, person, kind, report):
    """1 October of the enrolment year; without one, derived from the graduation date and the level's length
    (ECTS / 60 years): graduation in the last of those academic years."""
    year = study.enrolment_year
    if year is not None:
        if MIN_YEAR <= year <= date.today().year + 1:
            return date(year, 10, 1)
        report.problems.append((person.id, f"studije.{kind}: enrolment year {year} is not a plausible year; the "
                                           "start is derived from the graduation date"))
    level = STUDY_LEVELS.get(programme.level_id)
    if study.graduated_on is None or level is None:
        return None
    years = max(1, math.ceil(level[0] / 60))
    graduated = study.graduated_on
    last_year_start = graduated.year if graduated.month >= 10 else graduated.year - 1
    return date(last_year_start - (years - 1), 10, 1)


def _degrees_sync(studies, programmes, counts):
    desired = {}
    for planned in studies.values():
        for values in planned.values():
            programme_id, title = values["degree"]
            programme = programmes[programme_id]
            level_id = programme.level_id if programme.level_id in STUDY_LEVELS else None
            desired[(programme_id, title)] = {"program_portal_id": programme_id, "title": title,
                                              "name": programme.name, "level_id": level_id}
    existing = {(row["program_portal_id"], row["title"]): row for row in db.session.execute(
        select(AcademicDegree.id, AcademicDegree.program_portal_id, AcademicDegree.title, AcademicDegree.name,
               AcademicDegree.level_id).where(AcademicDegree.program_portal_id.is_not(None))).mappings()}
    return _rows_sync(AcademicDegree, key=("program_portal_id", "title"), existing=existing, desired=desired,
                      columns=("name", "level_id"), counts=counts)


def _media_store(pictures):
    """Store the pictures not stored yet (content-addressed: one row per distinct picture); returns how many."""
    by_key = {picture.key: picture for picture in pictures}
    keys = list(by_key)
    stored = set()
    for start in range(0, len(keys), IN_CHUNK):
        stored.update(db.session.scalars(select(Media.key).where(Media.key.in_(keys[start:start + IN_CHUNK]))))
    new = [{"key": picture.key, "content_type": picture.content_type, "extension": picture.extension,
            "width": picture.width, "height": picture.height, "size": len(picture.data), "data": picture.data}
           for key, picture in by_key.items() if key not in stored]
    if new:
        db.session.execute(insert(Media), new, execution_options=ALL_COLUMNS)
    return len(new)


def _profiles_sync(people, report):
    existing = {(row["portal_id"],): row for row in db.session.execute(
        select(Profile.id, Profile.portal_id, Profile.edited_fields,
               *[getattr(Profile, column) for column in PROFILE_COLUMNS]).where(Profile.portal_id.is_not(None)))
        .mappings()}
    desired = {}
    for item in people:
        row = existing.get((item.person.id,))
        values = _profile_values(item, report)
        if item.picture_failed:
            # The picture could not be fetched or read this time: keep the one stored, if any.
            values["picture_key"] = row["picture_key"] if row is not None else None
        if row is not None:
            for edited in row["edited_fields"] or ():
                column = COLUMN_OF_EDITED.get(edited)
                if column:
                    values[column] = row[column]  # the person's own value stays
        desired[(item.person.id,)] = values
    ids = _rows_sync(Profile, key=("portal_id",), existing=existing, desired=desired, columns=PROFILE_COLUMNS,
                     counts=report.people)
    return {row_key[0]: profile_id for row_key, profile_id in ids.items()}


def _profile_values(item, report):
    person = item.person
    try:
        handle = linkedin_handle(person.linkedin)
    except ValueError as error:
        report.problems.append((person.id, f"linkedin: {error}; left empty"))
        handle = None
    return {"portal_id": person.id, "first_name": person.first_name, "last_name": person.last_name,
            "biography": person.biography, "social_id_1": handle,
            "picture_key": item.picture.key if item.picture else None,
            "visible": True, "edited_fields": []}


def _history_rows(model, columns, profile_ids, *where):
    """Existing rows of ``model`` belonging to the imported profiles (one SELECT, joined on imported profiles)."""
    wanted = set(profile_ids)
    statement = (select(model.id, model.profile_id, *[getattr(model, column) for column in columns])
                 .join(Profile, Profile.id == model.profile_id).where(Profile.portal_id.is_not(None), *where))
    return [row for row in db.session.execute(statement).mappings() if row["profile_id"] in wanted]


def _academic_sync(people, studies, profile_ids, degree_ids, counts):
    fetched_ids = [profile_ids[item.person.id] for item in people]
    existing = {(row["profile_id"], row["kind"]): row
                for row in _history_rows(AcademicHistory, ("kind", *ACADEMIC_COLUMNS), fetched_ids)}
    desired, removed = {}, []
    for item in people:
        profile_id = profile_ids[item.person.id]
        for kind, values in studies[item.person.id].items():
            row = {column: value for column, value in values.items() if column != "degree"}
            desired[(profile_id, kind)] = {**row, "profile_id": profile_id, "degree_id": degree_ids[values["degree"]],
                                           "thesis_grade": None, "thesis_abstract": ""}
        for kind in STUDY_KINDS:
            # Gone from the portal: removed. (A study present but not importable this time is left as it was.)
            if item.person.studies.get(kind) is None and (profile_id, kind) in existing:
                removed.append(existing[(profile_id, kind)]["id"])
    _rows_sync(AcademicHistory, key=("profile_id", "kind"), existing=existing, desired=desired,
               columns=ACADEMIC_COLUMNS, counts=counts)
    _rows_delete(AcademicHistory, removed, counts)


def _rows_delete(model, ids, counts):
    for start in range(0, len(ids), IN_CHUNK):
        db.session.execute(delete(model).where(model.id.in_(ids[start:start + IN_CHUNK])))
    counts.removed += len(ids)


def _employment_sync(people, profile_ids, company_ids, report):
    fetched_ids = [profile_ids[item.person.id] for item in people]
    existing = defaultdict(list)
    for row in _history_rows(EmploymentHistory, EMPLOYMENT_COLUMNS, fetched_ids, EmploymentHistory.source == "portal"):
        existing[row["profile_id"]].append(row)
    inserts, updates, removed = [], [], []
    for item in people:
        profile_id = profile_ids[item.person.id]
        wanted = _jobs_plan(item.person, company_ids, report)
        kept = list(existing.get(profile_id, ()))
        # Rows the portal still lists stay as they are; the rest are rewritten in place, then added or removed.
        unmatched = []
        for values in wanted:
            match = next((row for row in kept if all(row[c] == values[c] for c in EMPLOYMENT_COLUMNS)), None)
            if match is not None:
                kept.remove(match)
            else:
                unmatched.append(values)
        for row, values in zip(kept, unmatched, strict=False):
            updates.append({"id": row["id"], **{c: values[c] for c in EMPLOYMENT_COLUMNS if row[c] != values[c]}})
        inserts.extend({**values, "profile_id": profile_id, "description": "", "source": "portal"}
                       for values in unmatched[len(kept):])
        removed.extend(row["id"] for row in kept[len(unmatched):])
    if inserts:
        db.session.execute(insert(EmploymentHistory), inserts, execution_options=ALL_COLUMNS)
    _rows_update(EmploymentHistory, updates)
    _rows_delete(EmploymentHistory, removed, report.employment)
    report.employment.created += len(inserts)
    report.employment.updated += len(updates)


def _jobs_plan(person, company_ids, report):
    """The person's jobs as rows: those naming an unknown company are reported and left out; unreadable dates are
    reported and stored as null."""
    planned = []
    for number, job in enumerate(person.jobs):
        company_id = company_ids.get(job.company_id)
        if company_id is None:
            report.problems.append((person.id, f"zaposlenja[{number}]: unknown company {job.company_id!r}; that job "
                                               "is not imported"))
            continue
        planned.append({"company_id": company_id, "role": job.role,
                        "start_date": _date_read(person, number, "pocetak", job.start_text, report),
                        "end_date": _date_read(person, number, "kraj", job.end_text, report)})
    return planned


def _date_read(person, number, name, text, report):
    try:
        return month_date_parse(text)
    except UnreadableDate:
        full_name = f"{person.first_name} {person.last_name}".strip()
        report.unreadable_dates.append((person.id, full_name, f"zaposlenja[{number}].{name}", text))
        return None
