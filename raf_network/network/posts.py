"""Posts, their comments, and the feed.

- The feed (``GET /api/posts``) is the newest ``FEED_LIMIT`` posts, each with its author and all its comments (oldest
  first), served as cached bytes (family ``network``) and built with two queries however many posts, comments and
  authors there are: posts with their authors, then the comments of those posts with theirs.
- Who may write: posts by alumni, faculty administrators and admins; comments by anyone signed in. A post or
  comment is changed by its author only; deleted by its author or by staff (moderation). Someone else's post or
  comment is 403, not 404: it is shown to everyone in the feed, so there is nothing to hide.
- Notifications: a post with ``notify`` (staff only) goes to every other active account — an inbox entry and a
  push per device, through the notifications pipeline (category ``announcement``; idempotent by post, so never
  twice). A comment notifies the post's author (category ``comment``), unless they wrote it themselves.
"""
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from raf_network.cache import cached_body
from raf_network.errors import Forbidden, NotFound
from raf_network.extensions import db
from raf_network.network.accounts import profile_ensure
from raf_network.network.freshness import FAMILY, network_changed
from raf_network.network.models import Comment, Post, Profile
from raf_network.network.people import author_loaded, json_bytes
from raf_network.network.schemas import PostSchema, display_name
from raf_network.notifications.notify import notification_create
from raf_network.notifications.texts import LOCALES
from raf_network.users.models import User

AUTHOR_ROLES = ("alumni", "faculty_administrator", "admin")
STAFF_ROLES = ("faculty_administrator", "admin")
PUSH_TEXT_CHARS = 200


@dataclass
class FeedPost:
    """A post as the app shows it: with its author and its comments."""

    id: int
    title: str
    text: str
    created_at: datetime
    author: Profile
    comments: list


def _with_comments(posts):
    """The posts with their comments, oldest first (one query for all of them)."""
    by_post = {post.id: [] for post in posts}
    if by_post:
        comments = db.session.scalars(
            select(Comment).options(author_loaded(Comment.author))
            .where(Comment.post_id.in_(list(by_post)))
            .order_by(Comment.post_id, Comment.id)
        )
        for comment in comments:
            by_post[comment.post_id].append(comment)
    return [FeedPost(id=post.id, title=post.title, text=post.text, created_at=post.created_at, author=post.author,
                     comments=by_post[post.id]) for post in posts]


def feed_list(*, before=None):
    """The newest ``FEED_LIMIT`` posts (older than post ``before``, when given), as cached JSON bytes."""
    limit = current_app.config["FEED_LIMIT"]
    key = f"posts:limit={limit}:before={before or ''}"

    def build():
        query = select(Post).options(author_loaded(Post.author)).order_by(Post.id.desc()).limit(limit)
        if before is not None:
            query = query.where(Post.id < before)
        return json_bytes(PostSchema(many=True).dump(_with_comments(db.session.scalars(query).all())))

    return cached_body(key, (FAMILY,), build)


def _post_loaded(post_id):
    post = db.session.scalar(select(Post).options(author_loaded(Post.author)).where(Post.id == post_id)
                             .execution_options(populate_existing=True))
    return _with_comments([post])[0]


def _post_with_author_account(post_id):
    """(post, the author's account id or None); NotFound for an unknown post."""
    row = db.session.execute(
        select(Post, Profile.user_id).join(Profile, Profile.id == Post.author_id).where(Post.id == post_id)
    ).first()
    if row is None:
        raise NotFound(f"post {post_id} does not exist")
    return row


def _shorten(text):
    """A push shows a line or two: long texts are cut (the app opens the whole post)."""
    return text if len(text) <= PUSH_TEXT_CHARS else text[:PUSH_TEXT_CHARS - 1] + "…"


def post_create(*, user, title, text, notify=False):
    """Publish a post (the caller's role is checked by the route); ``notify`` is for staff only (Forbidden)."""
    if notify and user.role not in STAFF_ROLES:
        raise Forbidden("only faculty administrators and admins may notify everyone of a post")
    author = profile_ensure(user=user)
    post = Post(author_id=author.id, title=title, text=text)
    db.session.add(post)
    db.session.flush()
    if notify:
        recipients = db.session.scalars(select(User.id).where(User.is_active, User.id != user.id)).all()
        notification_create(
            category="announcement", source=f"post:{post.id}",
            texts={locale: {"title": _shorten(title), "body": _shorten(text)} for locale in LOCALES},
            data={"type": "post", "post_id": str(post.id)}, user_ids=recipients, created_by_id=user.id,
        )
    network_changed()
    db.session.commit()
    return _post_loaded(post.id)


def post_update(*, user, post_id, changes):
    """Edit one's own post (title and/or text)."""
    post, author_user_id = _post_with_author_account(post_id)
    if author_user_id != user.id:
        raise Forbidden("only its author may edit a post")
    for name, value in changes.items():
        setattr(post, name, value)
    network_changed()
    db.session.commit()
    return _post_loaded(post.id)


def post_delete(*, user, post_id):
    """Delete a post with its comments: its author, or staff (moderation)."""
    post, author_user_id = _post_with_author_account(post_id)
    if author_user_id != user.id and user.role not in STAFF_ROLES:
        raise Forbidden("only its author or staff may delete a post")
    db.session.delete(post)  # its comments go through ON DELETE CASCADE
    network_changed()
    db.session.commit()


def comment_create(*, user, post_id, text):
    """Comment on a post; its author is notified (not of their own comments)."""
    post, author_user_id = _post_with_author_account(post_id)
    author = profile_ensure(user=user)
    comment = Comment(post_id=post.id, author_id=author.id, text=text)
    db.session.add(comment)
    db.session.flush()
    if author_user_id is not None and author_user_id != user.id:
        body = f"{display_name(author)}: {_shorten(text)}"
        texts = {"sr-Latn": {"title": "Novi komentar na vašu objavu", "body": body},
                 "en": {"title": "New comment on your post", "body": body}}
        notification_create(
            category="comment", source=f"comment:{comment.id}", texts=texts,
            data={"type": "comment", "post_id": str(post.id), "comment_id": str(comment.id)},
            user_ids=[author_user_id], created_by_id=user.id,
        )
    network_changed()
    db.session.commit()
    comment = db.session.scalar(select(Comment).options(author_loaded(Comment.author))
                                .where(Comment.id == comment.id).execution_options(populate_existing=True))
    return comment


def comment_delete(*, user, post_id, comment_id):
    """Delete a comment: its author, or staff. NotFound for an unknown post, or a comment not on that post."""
    row = db.session.execute(
        select(Comment, Profile.user_id).join(Profile, Profile.id == Comment.author_id)
        .where(Comment.id == comment_id, Comment.post_id == post_id)
    ).first()
    if row is None:
        _post_with_author_account(post_id)  # an unknown post says so
        raise NotFound(f"post {post_id} has no comment {comment_id}")
    comment, author_user_id = row
    if author_user_id != user.id and user.role not in STAFF_ROLES:
        raise Forbidden("only its author or staff may delete a comment")
    db.session.delete(comment)
    network_changed()
    db.session.commit()
