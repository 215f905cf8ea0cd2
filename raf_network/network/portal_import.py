"""The alumni portal import (``flask network import-portal``, later also a background job of the officers'
console): everyone the faculty's alumni portal lists, with their companies, degrees, studies, jobs and pictures.

Two phases:

- **Fetch**: the reference data (study programmes with their levels, companies) and the list — any of these
  unreadable is ``PortalUnavailable`` and nothing is written — then every person, ``PORTAL_CONCURRENCY`` at a
  time, with their picture, which is checked and re-encoded right there on the fetching thread
  (``pictures.picture_process``). A person who cannot be fetched or does not validate is a *failed fetch* in the
  report; a bad picture is a *problem* in the report and the person is still imported.
- **Write** (``portal_write``): everything in ONE transaction, with a constant number of statements per table
  whatever the number of people; the network's cached responses are retired with its commit (``freshness``).

Idempotent, keyed by the portal's ids: profiles by ``portal_id``, companies by ``portal_id``, degrees by
(programme, title), academic history by (profile, study kind). Only what differs is written, so importing an
unchanged portal again creates and updates nothing. A person's own edits (``Profile.edited_fields``) are kept.
Employment rows with ``source = "portal"`` are replaced per person by what the portal lists now (matched row by
row, so unchanged ones keep their ids); rows the person entered (``source = "self"``) are never touched.
"""
import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

from flask import current_app

from raf_network.errors import ValidationFailed
from raf_network.extensions import db
from raf_network.network.freshness import network_changed
from raf_network.network.models import STUDY_LEVELS
from raf_network.network.pictures import picture_process
from raf_network.network.portal import PortalClient, PortalFetchError, PortalUnavailable
from raf_network.network.portal_write import portal_write

log = logging.getLogger(__name__)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    removed: int = 0


@dataclass
class ImportReport:
    """What an import did. ``unreadable_dates``: (portal id, person, field, text); ``failed``: (portal id,
    reason); ``problems``: (portal id or None, what was skipped or left out and why)."""

    url: str
    listed: int = 0
    fetched: int = 0
    people: Counts = field(default_factory=Counts)
    companies: Counts = field(default_factory=Counts)
    degrees: Counts = field(default_factory=Counts)
    academic: Counts = field(default_factory=Counts)
    employment: Counts = field(default_factory=Counts)
    pictures_stored: int = 0
    unreadable_dates: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def changed(self):
        counts = (self.people, self.companies, self.degrees, self.academic, self.employment)
        return self.pictures_stored > 0 or any(c.created or c.updated or c.removed for c in counts)

    def to_json(self):
        return asdict(self)


@dataclass(frozen=True)
class FetchedPerson:
    person: object  # portal.Person
    picture: object  # pictures.Picture, or None
    picture_failed: bool


@dataclass(frozen=True)
class Fetched:
    programmes: dict  # portal id → portal.Programme
    companies: dict  # portal id → name
    people: list  # FetchedPerson, by portal id


def portal_import(*, url=None, progress=None):
    """Import everyone the portal at ``url`` (default ``ALUMNI_PORTAL_URL``) lists; returns the ImportReport.

    ``progress(done, total)`` is called as people are fetched (from the calling thread). Raises
    ``PortalUnavailable`` (nothing written) when the portal's list or reference data cannot be read, or when not one
    person could be fetched. Commits; the network's cached responses are retired with the commit."""
    config = current_app.config
    url = (url or config["ALUMNI_PORTAL_URL"]).rstrip("/")
    report = ImportReport(url=url)
    started = time.perf_counter()
    with PortalClient(url=url, concurrency=config["PORTAL_CONCURRENCY"], timeout=config["PORTAL_TIMEOUT"]) as client:
        fetched = portal_fetch(client=client, report=report, progress=progress,
                               concurrency=config["PORTAL_CONCURRENCY"],
                               max_bytes=config["MAX_PICTURE_BYTES"])
    report.fetch_seconds = time.perf_counter() - started
    if not fetched.people:
        reason = "lists nobody" if not report.listed else f"lists {report.listed}, and none could be fetched"
        raise PortalUnavailable(f"The alumni portal at {url} {reason}; nothing was imported.",
                                errors={"failed": [f"#{portal_id}: {why}" for portal_id, why in report.failed]})
    started = time.perf_counter()
    try:
        portal_write(fetched=fetched, report=report)
        if report.changed:
            network_changed()  # the network's cached responses, retired with this commit
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    report.write_seconds = time.perf_counter() - started
    # Fetch problems arrive in completion order: by person (portal-wide ones first), each person's in order.
    report.problems.sort(key=lambda problem: (problem[0] is not None, problem[0] or 0))
    log.info("portal import from %s: %d listed, %d fetched, %d failed, people %s", url, report.listed,
             report.fetched, len(report.failed), report.people)
    return report


def portal_import_job(url=None):
    """The import as a background job (the officers' console): takes only the portal's URL (None: the configured
    one). Idempotent, so a retried or repeated run does no harm. Returns the report as JSON."""
    return portal_import(url=url).to_json()


# ------------------------------------------------------------------------------------------------------------------
# Fetch
# ------------------------------------------------------------------------------------------------------------------

def portal_fetch(*, client, report, progress, concurrency, max_bytes):
    """Reference data, the list, then every person and picture (``concurrency`` at a time). Writes nothing."""
    programmes, problems = client.programmes()
    report.problems.extend(problems)
    for programme in programmes.values():
        if programme.level_id not in STUDY_LEVELS:
            report.problems.append((None, f"programme {programme.id} ({programme.name}): unknown study level "
                                          f"{programme.level_id!r}; its degrees have no level"))
    companies, problems = client.companies()
    report.problems.extend(problems)
    listed, problems = client.people_list()
    report.problems.extend(problems)
    report.listed = len(listed)
    people = []
    if progress:
        progress(0, len(listed))
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="portal-fetch") as pool:
        futures = {pool.submit(_person_fetch, client, entry, max_bytes): entry for entry in listed}
        for done, future in enumerate(as_completed(futures), start=1):
            try:
                fetched, problem = future.result()
            except PortalFetchError as error:
                report.failed.append((futures[future].id, str(error)))
            else:
                people.append(fetched)
                if problem:
                    report.problems.append((fetched.person.id, problem))
            if progress:
                progress(done, len(listed))
    people.sort(key=lambda fetched: fetched.person.id)
    report.failed.sort()
    report.fetched = len(people)
    return Fetched(programmes=programmes, companies=companies, people=people)


def _person_fetch(client, entry, max_bytes):
    """On a fetching thread: one person and their picture, re-encoded. ``(FetchedPerson, problem or None)``."""
    person = client.person_get(entry.id, listed=entry)
    if not person.picture_name:
        return FetchedPerson(person=person, picture=None, picture_failed=False), None
    try:
        data = client.picture_get(person.picture_name, max_bytes=max_bytes)
        picture = picture_process(data=data, max_bytes=max_bytes)
    except PortalFetchError as error:
        problem = f"picture {person.picture_name}: {error}"
    except ValidationFailed as error:
        problem = f"picture {person.picture_name}: {error.message}"
    else:
        return FetchedPerson(person=person, picture=picture, picture_failed=False), None
    return FetchedPerson(person=person, picture=None, picture_failed=True), problem
