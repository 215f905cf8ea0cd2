"""Objave (``/console/posts``): publish a post to the alumni network's feed (optionally pushed to everyone), and
moderate — the feed as the app shows it, with every comment, and deleting posts and comments.

Through ``network.posts``: ``post_create`` (the rules of the API's ``POST /api/posts``; the input is loaded with the
same ``PostCreateSchema``), ``post_delete``, ``comment_delete``, and ``feed_list`` — the app's own feed bytes, so the
console lists exactly what the app shows (cached; a new post is in ``GET /api/posts`` at once).
"""
import json

from flask import current_app, flash, redirect, render_template, request, url_for
from marshmallow import fields, validate
from wtforms import BooleanField, StringField

from raf_network.console.audit import audit_record
from raf_network.console.auth import current_console_user, staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import ConsoleForm, MultilineField, form_load, query_load
from raf_network.jobs import inline_jobs_in_background
from raf_network.network import posts
from raf_network.network.schemas import PostCreateSchema
from raf_network.schemas import BaseSchema

POST_CREATE = PostCreateSchema()


class PostForm(ConsoleForm):
    title = StringField("Naslov")
    text = MultilineField("Tekst")
    notify = BooleanField("Pošalji push obaveštenje svim korisnicima")


class FeedPageSchema(BaseSchema):
    before = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), load_default=None)


FEED_PAGE = FeedPageSchema()


def _feed(before):
    body, _how = posts.feed_list(before=before)
    return json.loads(body.raw)


def _page(form, *, status=200):
    before = query_load(FEED_PAGE)["before"] if request.method == "GET" else None
    feed = _feed(before)
    older = feed[-1]["id"] if len(feed) >= current_app.config["FEED_LIMIT"] else None
    return render_template("console/posts.html", form=form, feed=feed, older=older), status


@blp.get("/posts", endpoint="posts")
@staff_required
def posts_page():
    """Objave: the publish form and the feed with its comments."""
    return _page(PostForm())


@blp.post("/posts")
@staff_required
def post_publish():
    """Publish a post (``Objavi``)."""
    form = PostForm()
    body = form_load(form, POST_CREATE, {"title": form.title.data or "", "text": form.text.data or "",
                                         "notify": bool(form.notify.data)})
    if body is None:
        return _page(form, status=422)
    if body["notify"]:
        inline_jobs_in_background()  # a push to everyone: without Redis beside this request, not inside it
    post = posts.post_create(user=current_console_user(), **body)
    audit_record("post_create", target=f"post {post.id}", details={"title": post.title, "notify": body["notify"]})
    flash("Objava je objavljena." + (" Obaveštenje se šalje svim korisnicima." if body["notify"] else ""),
          "success")
    return redirect(url_for("console.posts"))


@blp.post("/posts/<int:post_id>/delete")
@staff_required
def post_remove(post_id):
    """Delete a post with its comments (moderation)."""
    posts.post_delete(user=current_console_user(), post_id=post_id)
    audit_record("post_delete", target=f"post {post_id}")
    flash("Objava je obrisana.", "success")
    return redirect(url_for("console.posts"))


@blp.post("/posts/<int:post_id>/comments/<int:comment_id>/delete")
@staff_required
def comment_remove(post_id, comment_id):
    """Delete a comment (moderation)."""
    posts.comment_delete(user=current_console_user(), post_id=post_id, comment_id=comment_id)
    audit_record("comment_delete", target=f"post {post_id}, comment {comment_id}")
    flash("Komentar je obrisan.", "success")
    return redirect(url_for("console.posts"))
