"""The alumni network: people (profiles), companies, degrees, academic and employment history, posts with their
comments, and the pictures shown with them.

A ``Profile`` is the contract's ``AlumniUser``: an alumnus imported from the faculty's alumni portal (who may have no
account yet), or an account that posted or commented. It belongs to at most one account (``user_id``); an operator
links an imported profile to the account of the alumnus who signs in later. Rows imported from the portal carry its
id (``portal_id``), so a re-import updates them in place; ``edited_fields`` names what the person changed themselves,
which a re-import leaves alone.
"""
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from raf_network.extensions import db

# The portal's study levels (``nivo_studija_id``): ECTS, the level the app shows ("1" basic, "2" master, "3"
# doctoral) and its name, in Serbian Cyrillic as the app shows it.
STUDY_LEVELS = {
    108: (180, "1", "Основне струковне студије"),
    109: (240, "1", "Основне академске студије"),
    110: (60, "2", "Мастер академске студије"),
    229: (60, "2", "Магистарске студије"),
    210: (180, "3", "Докторске академске студије"),
}
# The portal's three kinds of studies of one person (``studije``), one academic-history row each.
STUDY_KINDS = ("osnovne", "master", "doktorske")
# Where a row came from: the portal import, or the person (or an officer) through the API or console.
SOURCES = ("portal", "self")
# Profile fields a person may edit; once edited, a re-import keeps the person's value.
SELF_EDITABLE = ("biography", "social_id_1", "visible", "picture")


class Media(db.Model):
    """An image, re-encoded by ``network.pictures`` and stored by the sha256 of its bytes: the same picture is stored
    once, a key never changes meaning (served as immutable), and nothing lives on local disk."""

    __tablename__ = "media"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    extension: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())

    @property
    def path(self):
        """Where it is served, relative to the server root (what the app's ``profile_picture`` holds)."""
        return f"/media/{self.key}.{self.extension}"


class Profile(db.Model):
    __tablename__ = "network_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), unique=True)
    portal_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    biography: Mapped[str] = mapped_column(Text, default="")
    social_id_1: Mapped[str | None] = mapped_column(String(100))  # the LinkedIn handle, not a URL
    picture_key: Mapped[str | None] = mapped_column(ForeignKey("media.key"), index=True)
    # False: left out of the directory and company lists; still shown as the author of what the person wrote.
    # The person's own choice (``PATCH /api/me/profile``).
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    # True: an officer took the person out of the directory (the console's Mreža), as ``visible`` does; the person
    # cannot undo it, and a re-import from the portal does not touch it.
    hidden_by_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Fields of SELF_EDITABLE the person set themselves; a re-import does not overwrite them.
    edited_fields: Mapped[list] = mapped_column(JSON, default=list)
    # Fictional people of the demo network (``flask seed`` on an empty network): listed like imported alumni,
    # and recognisable as sample data.
    sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())

    picture: Mapped[Media | None] = relationship(lazy="raise")

    @property
    def full_name(self):
        return " ".join(part for part in (self.first_name.strip(), self.last_name.strip()) if part)


class Company(db.Model):
    __tablename__ = "network_company"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())


class AcademicDegree(db.Model):
    """A study programme and the title it confers (the contract's ``AcademicDegree``)."""

    __tablename__ = "network_degree"
    __table_args__ = (UniqueConstraint("program_portal_id", "title", name="uq_network_degree_program_title"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The portal's study programme (``smerovi`` id); null for a degree entered by hand.
    program_portal_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))  # the programme, e.g. "Računarske nauke"
    title: Mapped[str] = mapped_column(String(300), default="")  # e.g. "Дипломирани инжењер рачунарства"
    # The portal's level (STUDY_LEVELS), which gives ECTS, level and level name; null when unknown.
    level_id: Mapped[int | None] = mapped_column(SmallInteger)


class AcademicHistory(db.Model):
    """One of a person's studies, with the thesis defended at its end (the contract's ``AcademicHistory`` and
    ``ThesisDefense``: the thesis has no table of its own, it is shown when ``thesis_title`` is set)."""

    __tablename__ = "network_academic_history"
    __table_args__ = (UniqueConstraint("profile_id", "kind", name="uq_network_academic_history_profile_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("network_profile.id", ondelete="CASCADE"), index=True)
    degree_id: Mapped[int] = mapped_column(ForeignKey("network_degree.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # STUDY_KINDS
    student_number: Mapped[str] = mapped_column(String(32), default="")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    thesis_title: Mapped[str | None] = mapped_column(String(1000))
    thesis_date: Mapped[date | None] = mapped_column(Date)
    thesis_grade: Mapped[int | None] = mapped_column(SmallInteger)
    thesis_abstract: Mapped[str] = mapped_column(Text, default="")
    mentor: Mapped[str] = mapped_column(String(200), default="")
    commission: Mapped[list] = mapped_column(JSON, default=list)  # names, in the portal's order

    degree: Mapped[AcademicDegree] = relationship(lazy="raise")


class EmploymentHistory(db.Model):
    __tablename__ = "network_employment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("network_profile.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("network_company.id"), index=True)
    role: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # "portal": replaced by every re-import of its person; "self": entered by the person, never touched by imports.
    source: Mapped[str] = mapped_column(String(16), default="self")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())

    company: Mapped[Company] = relationship(lazy="raise")


class Post(db.Model):
    __tablename__ = "network_post"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("network_profile.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())

    author: Mapped[Profile] = relationship(lazy="raise")


class Comment(db.Model):
    __tablename__ = "network_comment"
    __table_args__ = (Index("ix_network_comment_post_id_id", "post_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("network_post.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("network_profile.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())

    author: Mapped[Profile] = relationship(lazy="raise")
