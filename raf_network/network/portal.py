"""The HTTP client of the faculty's alumni portal's public JSON API (read only), and the checks of what it answers.

The portal (``ALUMNI_PORTAL_URL``) serves ``/rs/api/list`` (everyone listed), ``/rs/api/diplomac/<id>`` (one
alumnus), ``/rs/api/smerovi`` (study programmes with their level), ``/rs/api/kompanije`` (companies) and pictures at
``/images/slike/<name>``. Its data is typed by people and served loosely: ids come as numbers or strings, any field
may be null, empty or missing, unknown fields appear. Everything read is validated here (marshmallow, unknown fields
ignored) and turned into the small dataclasses below, with our own names; what does not validate is a
``PortalFetchError`` naming the field, never a crash further on.

One ``requests.Session`` whose connection pool holds ``concurrency`` connections (the import fetches that many
people at a time on threads), a connect and read timeout on every request, and one retry, after a short pause, of
what is usually transient: a connection refused or reset, 502, 503 and 504.
"""
import json
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit

import requests
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate
from requests.adapters import HTTPAdapter

from raf_network.errors import ApiError, ValidationFailed
from raf_network.network.models import STUDY_KINDS

TRANSIENT_STATUSES = frozenset({502, 503, 504})
RETRY_PAUSE_SECONDS = 0.3
# Largest bodies read (bytes): the list of everyone, one person, a reference list. Pictures: MAX_PICTURE_BYTES.
MAX_LIST_BYTES = 32 * 1024 * 1024
MAX_PERSON_BYTES = 1024 * 1024
USER_AGENT = "raf-network-portal-import/1"
PORTAL_ID = validate.Range(min=1, max=2**31 - 1)


class PortalUnavailable(ApiError):
    """The portal cannot be read (its list or its reference data), or nothing it lists could be imported."""

    code = 502


class PortalFetchError(Exception):
    """One request to the portal failed, or its answer is not what the portal's API describes; the message says
    why, in a form fit for the import's report ("HTTP 500", "timed out after 10 s", "ime: Not a valid string.")."""


# ------------------------------------------------------------------------------------------------------------------
# What the portal answers, as read here
# ------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListedPerson:
    id: int
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Programme:
    id: int
    name: str
    level_id: int | None


@dataclass(frozen=True)
class PortalCompany:
    id: int
    name: str


@dataclass(frozen=True)
class Study:
    programme_id: int | None
    title: str
    enrolment_year: int | None
    graduated_on: date | None
    student_number: str
    thesis_title: str | None
    mentor: str
    commission: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    company_id: int | None
    role: str
    start_text: str | None
    end_text: str | None


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    last_name: str
    biography: str
    linkedin: str | None
    picture_name: str | None
    studies: dict  # kind (STUDY_KINDS) → Study, or None where the portal has none of that kind
    jobs: tuple[Job, ...]


class PortalText(fields.String):
    """Text as the portal sends it: stripped, numbers accepted as their digits (``broj_indeksa`` may be ``1234``),
    blank read as missing."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs).strip()


def _text(max_length, **kwargs):
    return PortalText(load_default=None, validate=validate.Length(max=max_length), **kwargs)


class PortalSchema(Schema):
    """Tolerant of what the portal adds (unknown fields are ignored); a blank string is a missing value."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def blanks_to_none(self, data, **_kwargs):
        if not isinstance(data, dict):
            return data  # marshmallow refuses it: "Invalid input type."
        return {name: None if isinstance(value, str) and not value.strip() else value for name, value in data.items()}


class ListedPersonSchema(PortalSchema):
    id = fields.Integer(required=True, validate=PORTAL_ID)
    ime = _text(100)
    prezime = _text(100)

    @post_load
    def make(self, data, **_kwargs):
        return ListedPerson(id=data["id"], first_name=data["ime"] or "", last_name=data["prezime"] or "")


class ProgrammeSchema(PortalSchema):
    id = fields.Integer(required=True, validate=PORTAL_ID)
    naziv = PortalText(required=True, validate=validate.Length(min=1, max=300))
    nivo_studija_id = fields.Integer(load_default=None)

    @post_load
    def make(self, data, **_kwargs):
        return Programme(id=data["id"], name=data["naziv"], level_id=data["nivo_studija_id"])


class CompanySchema(PortalSchema):
    id = fields.Integer(required=True, validate=PORTAL_ID)
    naziv = PortalText(required=True, validate=validate.Length(min=1, max=200))

    @post_load
    def make(self, data, **_kwargs):
        return PortalCompany(id=data["id"], name=data["naziv"])


class StudySchema(PortalSchema):
    studijski_program_id = fields.Integer(load_default=None, validate=PORTAL_ID)
    steceno_zvanje = _text(300)
    generacija_id = fields.Integer(load_default=None)
    datum_diplomiranja = fields.Date(load_default=None)
    broj_indeksa = _text(32)
    tema_rada = _text(1000)
    mentor = _text(200)
    komisija = _text(1000)

    @post_load
    def make(self, data, **_kwargs):
        commission = tuple(name.strip() for name in (data["komisija"] or "").split(",") if name.strip())
        return Study(programme_id=data["studijski_program_id"], title=data["steceno_zvanje"] or "",
                     enrolment_year=data["generacija_id"], graduated_on=data["datum_diplomiranja"],
                     student_number=data["broj_indeksa"] or "", thesis_title=data["tema_rada"],
                     mentor=data["mentor"] or "", commission=commission)


class StudiesSchema(PortalSchema):
    osnovne = fields.Nested(StudySchema, load_default=None)
    master = fields.Nested(StudySchema, load_default=None)
    doktorske = fields.Nested(StudySchema, load_default=None)


class JobSchema(PortalSchema):
    kompanija_id = fields.Integer(load_default=None, validate=PORTAL_ID)
    radno_mesto = _text(200)
    pocetak = _text(100)
    kraj = _text(100)

    @post_load
    def make(self, data, **_kwargs):
        return Job(company_id=data["kompanija_id"], role=data["radno_mesto"] or "", start_text=data["pocetak"],
                   end_text=data["kraj"])


class PersonSchema(PortalSchema):
    ime = _text(100)
    prezime = _text(100)
    biografija = _text(20_000)
    linkedin = _text(500)
    slika = _text(255)
    studije = fields.Nested(StudiesSchema, load_default=None)
    zaposlenja = fields.List(fields.Nested(JobSchema), load_default=None)


def _person_make(portal_id, data, listed):
    studies = data["studije"] or {}
    return Person(
        id=portal_id,
        # The list carries the name too: a detail without one still shows the person by name.
        first_name=data["ime"] or (listed.first_name if listed else ""),
        last_name=data["prezime"] or (listed.last_name if listed else ""),
        biography=data["biografija"] or "",
        linkedin=data["linkedin"],
        picture_name=data["slika"],
        studies={kind: studies.get(kind) for kind in STUDY_KINDS},
        jobs=tuple(data["zaposlenja"] or ()),
    )


def _errors_text(messages, prefix=""):
    """marshmallow's nested error dict → "studije.master.generacija_id: Not a valid integer." (first few)."""
    parts = []
    for name, value in messages.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            parts.append(_errors_text(value, prefix=f"{path}."))
        else:
            parts.append(f"{path}: {' '.join(str(item) for item in value)}")
    return "; ".join(parts[:5])


# ------------------------------------------------------------------------------------------------------------------
# The client
# ------------------------------------------------------------------------------------------------------------------

class PortalClient:
    """Reads the portal at ``url``. Safe to share between the import's fetching threads; close it when done."""

    def __init__(self, *, url, concurrency, timeout):
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValidationFailed(f"The alumni portal's address must be an http(s) URL, not {url!r}.",
                                   errors={"url": ["Not an http(s) URL."]})
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        # One pool per host, as large as the number of threads using it: no thread waits for a connection, and
        # no connection is opened and dropped per request.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=concurrency, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def close(self):
        self.session.close()

    def people_list(self):
        """Everyone the portal lists: ``(people, problems)`` — a malformed entry is a problem ``(id or None,
        reason)``, not a failure of the list. Raises PortalUnavailable when the list cannot be read."""
        entries = self._reference("/rs/api/list")
        people, problems, seen = [], [], set()
        for entry in entries:
            try:
                person = ListedPersonSchema().load(entry)
            except ValidationError as error:
                entry_id = entry.get("id") if isinstance(entry, dict) else None
                problems.append((entry_id, f"list entry {entry_id!r}: {_errors_text(error.messages)}"))
                continue
            if person.id not in seen:  # listed twice: fetched once
                seen.add(person.id)
                people.append(person)
        return people, problems

    def programmes(self):
        """Study programmes by id, and problems. Raises PortalUnavailable when they cannot be read."""
        return self._keyed("/rs/api/smerovi", ProgrammeSchema(), "programme")

    def companies(self):
        """Company names by id, and problems. Raises PortalUnavailable when they cannot be read."""
        companies, problems = self._keyed("/rs/api/kompanije", CompanySchema(), "company")
        return {company_id: company.name for company_id, company in companies.items()}, problems

    def person_get(self, portal_id, *, listed=None):
        """One alumnus. Raises PortalFetchError (unreachable, an HTTP error, not JSON, malformed)."""
        payload = self._json(f"/rs/api/diplomac/{portal_id}", MAX_PERSON_BYTES)
        try:
            data = PersonSchema().load(payload)
        except ValidationError as error:
            raise PortalFetchError(f"malformed: {_errors_text(error.messages)}") from None
        return _person_make(portal_id, data, listed)

    def picture_get(self, name, *, max_bytes):
        """A picture's bytes; larger than ``max_bytes`` is a PortalFetchError (read no further than that)."""
        return self._get(f"/images/slike/{quote(name, safe='')}", max_bytes)  # one path segment, whatever the name

    # -- plumbing --------------------------------------------------------------------------------------------------

    def _reference(self, path):
        """A list the import cannot do without: any failure is PortalUnavailable."""
        try:
            payload = self._json(path, MAX_LIST_BYTES)
        except PortalFetchError as error:
            raise PortalUnavailable(f"The alumni portal at {self.url} cannot be read ({path}: {error}); "
                                    "nothing was imported.") from None
        if not isinstance(payload, list):
            raise PortalUnavailable(f"The alumni portal at {self.url} answered {path} with something that is not "
                                    "a JSON array; nothing was imported.")
        return payload

    def _keyed(self, path, schema, what):
        by_id, problems = {}, []
        for entry in self._reference(path):
            try:
                item = schema.load(entry)
            except ValidationError as error:
                entry_id = entry.get("id") if isinstance(entry, dict) else None
                problems.append((None, f"{what} {entry_id!r}: {_errors_text(error.messages)}"))
                continue
            by_id[item.id] = item
        return by_id, problems

    def _json(self, path, limit):
        body = self._get(path, limit)
        try:
            return json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise PortalFetchError("the answer is not JSON") from None

    def _get(self, path, limit):
        """The body of a 200 answer to GET ``path`` (at most ``limit`` bytes), retried once after a transient
        failure. A read timeout is not retried: a portal that slow would only make the import twice as slow."""
        url = self.url + path
        try:
            return self._attempt(url, limit)
        except _Transient:
            time.sleep(RETRY_PAUSE_SECONDS)
        try:
            return self._attempt(url, limit)
        except _Transient as error:
            raise PortalFetchError(str(error)) from None

    def _attempt(self, url, limit):
        try:
            with self.session.get(url, timeout=(self.timeout, self.timeout), stream=True) as response:
                if response.status_code in TRANSIENT_STATUSES:
                    raise _Transient(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise PortalFetchError(f"HTTP {response.status_code}")
                return _body(response, limit)
        except requests.Timeout:
            raise PortalFetchError(f"timed out after {self.timeout:g} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            # A refused or reset connection; also a body that stopped arriving (requests reports a read timeout
            # while streaming as a ConnectionError).
            raise _Transient(f"connection failed ({_reason(error)})") from None
        except requests.RequestException as error:  # an address requests cannot use, too many redirects …
            raise PortalFetchError(f"request failed ({_reason(error)})") from None


class _Transient(PortalFetchError):
    """A failure worth one more attempt."""


def _body(response, limit):
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PortalFetchError(f"the answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _reason(error):
    """A short reason: the innermost cause's class name ("ConnectionRefusedError", "ProtocolError")."""
    cause = error
    while cause.__context__ is not None or cause.__cause__ is not None:
        cause = cause.__cause__ or cause.__context__
    return type(cause).__name__
