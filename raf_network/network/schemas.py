"""Marshmallow schemas of the alumni network: the app's shapes (``AlumniUser``, ``Company``, ``Post``,
``PostComment``, ``AcademicHistory``, ``AcademicDegree``, ``ThesisDefense``, ``EmploymentHistory``), the caller's
own profile, and the bodies and queries of the network's calls. Bodies are allow-listed (``BaseSchema``).

A field the released app reads as a non-nullable string is never null (``""`` instead); no e-mail address or phone
number appears in any of them.
"""
from marshmallow import ValidationError, fields, missing, validate, validates_schema

from raf_network.network.linkedin import linkedin_handle
from raf_network.network.models import STUDY_LEVELS
from raf_network.schemas import BaseSchema, Text, UtcDateTime

ID = validate.Range(min=1, max=2**31 - 1)


def strict_boolean(**kwargs):
    """A JSON boolean: true or false, not "yes" or "on"."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)
# What the app shows for a person without a name: readable, never empty, never an e-mail address.
NAMELESS = "RAF korisnik #{id}"


def display_name(profile):
    return profile.full_name or NAMELESS.format(id=profile.id)


def picture_path(profile):
    """``/media/<key>.<ext>`` (relative to the server root, as the app expects) or None."""
    return profile.picture.path if profile.picture_key is not None and profile.picture is not None else None


# ---- the app's shapes ----

class AlumniUserSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    full_name = fields.Function(display_name, dump_only=True, metadata={
        "type": "string", "description": "Never empty: a person without a name shows as `RAF korisnik #<id>`"})
    biography = fields.String(dump_only=True, metadata={"description": "`\"\"` when empty"})
    profile_picture = fields.Function(picture_path, dump_only=True, allow_none=True, metadata={
        "type": "string", "description": "`/media/<key>.<ext>`, relative to the server root; null without a picture",
        "example": "/media/3f2a….jpg"})
    social_id_1 = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "LinkedIn handle (not a URL)", "example": "jelena-zoric"})


class CompanySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)


class PostCommentSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    text = fields.String(dump_only=True)
    date_created = UtcDateTime(attribute="created_at", dump_only=True)
    author = fields.Nested(AlumniUserSchema, dump_only=True)


class PostSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    title = fields.String(dump_only=True)
    text = fields.String(dump_only=True)
    date_created = UtcDateTime(attribute="created_at", dump_only=True)
    author = fields.Nested(AlumniUserSchema, dump_only=True)
    comments = fields.List(fields.Nested(PostCommentSchema), dump_only=True,
                           metadata={"description": "All of them, oldest first"})


def _level(degree, part):
    """ECTS (0), level (1) or level name (2) of a degree's study level; 0 or "" when the level is unknown."""
    return STUDY_LEVELS.get(degree.level_id, (0, "", ""))[part]


class AcademicDegreeSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    ects = fields.Function(lambda degree: _level(degree, 0), dump_only=True,
                           metadata={"type": "integer", "description": "0 when the study level is unknown"})
    name = fields.String(dump_only=True, metadata={"description": "The study programme"})
    title = fields.String(dump_only=True, metadata={"description": "The title it confers"})
    level = fields.Function(lambda degree: _level(degree, 1), dump_only=True, metadata={
        "type": "string", "description": '"1" basic, "2" master, "3" doctoral; "" unknown'})
    level_name = fields.Function(lambda degree: _level(degree, 2), dump_only=True,
                                 metadata={"type": "string", "example": "Основне академске студије"})


def _commission_member(index):
    def member(history):
        names = history.commission or []
        return names[index] if index < len(names) else ""
    return member


class ThesisDefenseSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    grade = fields.Function(lambda history: history.thesis_grade or 0, dump_only=True, metadata={
        "type": "integer", "description": "0 when unknown (the portal does not publish grades)"})
    date = fields.Function(lambda history: (history.thesis_date or history.end_date).isoformat(), dump_only=True,
                           metadata={"type": "string", "format": "date",
                                     "description": "The defence, else the graduation date"})
    thesis_title = fields.String(dump_only=True)
    abstract = fields.String(attribute="thesis_abstract", dump_only=True)
    mentor = fields.String(dump_only=True)
    commission_member_1 = fields.Function(_commission_member(0), dump_only=True, metadata={"type": "string"})
    commission_member_2 = fields.Function(_commission_member(1), dump_only=True, metadata={"type": "string"})
    commission_member_3 = fields.Function(_commission_member(2), dump_only=True, metadata={"type": "string"})


class ThesisField(fields.Nested):
    """The thesis of a study (``AcademicHistory`` holds it inline): shown when it has a title and a date can be
    given (its own, else the graduation's); otherwise null."""

    def __init__(self, **kwargs):
        super().__init__(ThesisDefenseSchema, allow_none=True, **kwargs)

    def get_value(self, obj, attr, accessor=None, default=missing):
        if not obj.thesis_title or (obj.thesis_date is None and obj.end_date is None):
            return None
        return obj


class AcademicHistorySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    alumni_user = fields.Integer(attribute="profile_id", dump_only=True)
    student_number = fields.String(dump_only=True)
    start_date = fields.Date(dump_only=True)
    end_date = fields.Date(dump_only=True, allow_none=True)
    academic_degree = fields.Nested(AcademicDegreeSchema, attribute="degree", dump_only=True)
    thesis = ThesisField(dump_only=True)


class EmploymentHistorySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    company = fields.Nested(CompanySchema, dump_only=True)
    role = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    start_date = fields.Date(dump_only=True, allow_none=True)
    end_date = fields.Date(dump_only=True, allow_none=True, metadata={"description": "null: to this day"})


# ---- queries ----

class NoQuerySchema(BaseSchema):
    """A read without parameters: any query parameter is unknown (422), as everywhere."""


class FeedQuerySchema(BaseSchema):
    before = fields.Integer(strict=False, validate=ID, metadata={
        "description": "A post id: the page of posts older than it (the released app does not page)"})


class DirectoryQuerySchema(BaseSchema):
    company = fields.Integer(strict=False, validate=ID, metadata={
        "description": "A company id: the people who work or worked there (each once); unknown → []"})


class PersonQuerySchema(BaseSchema):
    alumni_user = fields.Integer(required=True, strict=False, validate=ID, metadata={
        "description": "An AlumniUser id; unknown → []"})


# ---- the caller's own profile ----

def _social_id(value):
    try:
        return linkedin_handle(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


# What the spec promises is accepted (a handle, or a profile URL on any linkedin.com host, or "" to clear it); the
# server also takes percent-encoded non-ASCII handles in URLs (network/linkedin.py), which a pattern cannot say.
LINKEDIN_HANDLE_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_-]{1,98}[A-Za-z0-9_]"
LINKEDIN_INPUT_PATTERN = (rf"^$|^@?{LINKEDIN_HANDLE_PATTERN}$|"
                          rf"^(https?://)?([A-Za-z0-9-]+\.)*linkedin\.com/in/{LINKEDIN_HANDLE_PATTERN}/?$")


class LinkedInField(fields.String):
    """A LinkedIn handle or profile URL (any linkedin.com host), loaded as the handle; null or "" clears it."""

    MAX_INPUT = 300

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.MAX_INPUT:
            raise ValidationError(f"at most {self.MAX_INPUT} characters")
        return _social_id(text)


class MyProfileSchema(AlumniUserSchema):
    """The caller's own profile: the ``AlumniUser`` everyone sees, plus what only its owner sees."""

    visible = fields.Boolean(dump_only=True, metadata={
        "description": "Your own choice. false: left out of the directory and company lists; still shown as the "
                       "author of posts"})
    hidden_by_staff = fields.Boolean(dump_only=True, metadata={
        "description": "true: a faculty officer left you out of the directory and company lists, whatever "
                       "'visible' says"})
    imported = fields.Function(lambda profile: profile.portal_id is not None, dump_only=True, metadata={
        "description": "The profile comes from the alumni portal (a re-import keeps what you edited)"})
    edited_fields = fields.List(fields.String(), dump_only=True, metadata={
        "description": "What you changed yourself; a re-import from the portal leaves these alone"})


class MyProfileUpdateSchema(BaseSchema):
    biography = Text(max_length=2000, min_length=0, multiline=True)
    social_id_1 = LinkedInField(allow_none=True, metadata={
        "maxLength": LinkedInField.MAX_INPUT, "pattern": LINKEDIN_INPUT_PATTERN,
        "description": "A LinkedIn handle or profile URL (reduced to the handle); null or \"\" removes it",
        "example": "https://www.linkedin.com/in/jelena-zoric/"})
    visible = strict_boolean()


# ---- the caller's employment history ----

class EmploymentWriteSchema(BaseSchema):
    """A job of the caller's: the company by id (``company``) or by name (``company_name``, created when no company
    has that name), exactly one of the two; ``end_date`` null means to this day, and is not before ``start_date``."""

    company = fields.Integer(strict=True, validate=ID, metadata={"description": "An existing company's id"})
    company_name = Text(max_length=200, metadata={"description": "A company by name (created if new)"})
    role = Text(max_length=200)
    description = Text(max_length=2000, min_length=0, multiline=True)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)

    @validates_schema
    def _company_once(self, data, partial=False, **_kwargs):
        given = [name for name in ("company", "company_name") if name in data]
        if len(given) > 1 or (not given and not partial):
            raise ValidationError("give exactly one of company (an id) and company_name", "company")

    @validates_schema
    def _dates_ordered(self, data, **_kwargs):
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None and end < start:
            raise ValidationError("must not be before start_date", "end_date")


class EmploymentCreateSchema(EmploymentWriteSchema):
    role = Text(max_length=200, required=True)


# ---- posts and comments ----

class PostCreateSchema(BaseSchema):
    title = Text(max_length=200, required=True)
    text = Text(max_length=10000, multiline=True, required=True)
    notify = strict_boolean(load_default=False, metadata={
        "description": "Staff only (403 otherwise): push it to every active account, with an inbox entry"})


class PostUpdateSchema(BaseSchema):
    title = Text(max_length=200)
    text = Text(max_length=10000, multiline=True)


class CommentCreateSchema(BaseSchema):
    text = Text(max_length=2000, multiline=True, required=True)


# ---- officers' moderation (the console's Mreža) ----

class CompanyRenameSchema(BaseSchema):
    name = Text(max_length=200, required=True, metadata={"description": "The company's new name"})


class CompanyMergeSchema(BaseSchema):
    """Merge company ``source`` (a duplicate) into ``target``: its jobs move there and it is deleted."""

    source = fields.Integer(required=True, validate=ID)
    target = fields.Integer(required=True, validate=ID)


class ProfileLinkSchema(BaseSchema):
    """Link the account with this e-mail address to an imported profile (``flask network link``)."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
