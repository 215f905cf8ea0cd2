"""HTTP routes of the alumni network: the released app's five reads (feed, directory, companies, academic and
employment history), posts and comments, the caller's own profile, picture and jobs, and the pictures themselves.

Everything needs a signed-in caller except ``/media/…`` (a picture's sha256 key is its own credential, and the
app's image widget sends no token). Lists are cached bytes with an ETag, private to the caller's device
(``Cache-Control: private``); every other answer of this blueprint is ``private, no-store`` unless it says otherwise.
"""
from flask import Response, current_app, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from raf_network.cache import conditional_response
from raf_network.errors import ApiError, ValidationFailed
from raf_network.extensions import Blueprint
from raf_network.network import people, posts, profile
from raf_network.network.pictures import media_find
from raf_network.network.schemas import (
    AcademicHistorySchema,
    AlumniUserSchema,
    CommentCreateSchema,
    CompanySchema,
    DirectoryQuerySchema,
    EmploymentCreateSchema,
    EmploymentHistorySchema,
    EmploymentWriteSchema,
    FeedQuerySchema,
    MyProfileSchema,
    MyProfileUpdateSchema,
    NoQuerySchema,
    PersonQuerySchema,
    PostCommentSchema,
    PostCreateSchema,
    PostSchema,
    PostUpdateSchema,
)
from raf_network.users.auth import auth_required, current_user

# Query schemas are stateless: one instance each serves every request (given a class, webargs builds and deep-copies
# a new instance per request, a noticeable part of a cached read's work).
FEED_QUERY, DIRECTORY_QUERY, PERSON_QUERY, NO_QUERY = (FeedQuerySchema(), DirectoryQuerySchema(), PersonQuerySchema(),
                                                       NoQuerySchema())

blp = Blueprint("network", __name__, description="The alumni network: feed, people, companies, histories, profiles "
                                                 "and pictures")

ERROR = {"schema": "Error"}
NOT_MODIFIED = {"description": "Not modified (the `If-None-Match` ETag is current)"}
PERSONAL_CACHE_CONTROL = "private, no-store"
MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Room for a multipart envelope (boundaries, part headers) around a picture of MAX_PICTURE_BYTES.
MULTIPART_OVERHEAD = 16 * 1024
PICTURE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
PICTURE_BODY = {
    "required": True,
    "description": "The picture itself as the body (JPEG, PNG, WebP or GIF; at most `MAX_PICTURE_BYTES`), or "
                   "`multipart/form-data` with exactly one file",
    "content": {
        **{content_type: {"schema": {"type": "string", "format": "binary"}} for content_type in PICTURE_TYPES},
        "multipart/form-data": {"schema": {"type": "object", "required": ["picture"], "additionalProperties": False,
                                           "properties": {"picture": {"type": "string", "format": "binary"}}}},
    },
}


@blp.after_request
def _personal_by_default(response):
    """Network data is about people: nothing here may be stored by a shared cache unless a route says so."""
    response.headers.setdefault("Cache-Control", PERSONAL_CACHE_CONTROL)
    return response


def _json_body(schema, **rules):
    """An operation's documented JSON body: ``schema`` plus rules on it as a whole (a marshmallow schema-level
    validator, e.g. "exactly one of", that the fields alone cannot say)."""
    return {"required": True, "content": {"application/json": {"schema": {"allOf": [schema], **rules}}}}


def _list_response(body_and_how):
    # Personal data: kept by the caller's device only, and revalidated on every use.
    return conditional_response(*body_and_how, max_age=0, private=True)


# ---- the released app's reads ----

@blp.route("/api/posts")
class Posts(MethodView):
    @blp.arguments(FEED_QUERY, location="query")
    @blp.response(200, PostSchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    @auth_required()
    def get(self, query):
        """The feed: the newest posts, each with its author and all its comments

        Newest first, `FEED_LIMIT` (50) of them; `?before=<post id>` gives the next page. Comments oldest first.
        Supports `ETag`/`If-None-Match` and gzip.
        """
        return _list_response(posts.feed_list(**query))

    @blp.arguments(PostCreateSchema)
    @blp.response(201, PostSchema)
    @auth_required(*posts.AUTHOR_ROLES)
    def post(self, body):
        """Publish a post (alumni, faculty administrators, admins)

        `notify: true` is for staff only (403 otherwise): every other active account gets it in its inbox and as
        a push on each of its devices, once.
        """
        return posts.post_create(user=current_user(), **body)


@blp.route("/api/alumni-users")
class AlumniUsers(MethodView):
    @blp.arguments(DIRECTORY_QUERY, location="query")
    @blp.response(200, AlumniUserSchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    @auth_required()
    def get(self, query):
        """The alumni directory, by name

        Visible alumni: imported from the alumni portal, or accounts whose role is `alumni`. `?company=<id>`: the
        people who work or worked there, each once (an unknown company gives `[]`).
        """
        return _list_response(people.directory_list(**query))


@blp.route("/api/companies")
class Companies(MethodView):
    @blp.arguments(NO_QUERY, location="query")
    @blp.response(200, CompanySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    @auth_required()
    def get(self, _query):
        """Companies, by name"""
        return _list_response(people.company_list())


@blp.route("/api/academic-history")
class AcademicHistoryList(MethodView):
    @blp.arguments(PERSON_QUERY, location="query")
    @blp.response(200, AcademicHistorySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    @auth_required()
    def get(self, query):
        """A person's studies, with degree and thesis (unknown person → `[]`)"""
        return _list_response(people.academic_history_list(**query))


@blp.route("/api/employment-history")
class EmploymentHistoryList(MethodView):
    @blp.arguments(PERSON_QUERY, location="query")
    @blp.response(200, EmploymentHistorySchema(many=True))
    @blp.alt_response(304, **NOT_MODIFIED)
    @auth_required()
    def get(self, query):
        """A person's jobs, newest first by start date (unknown person → `[]`)"""
        return _list_response(people.employment_history_list(**query))


# ---- posts and comments ----

@blp.route("/api/posts/<int:post_id>")
class PostDetail(MethodView):
    @blp.arguments(PostUpdateSchema(partial=True))
    @blp.response(200, PostSchema)
    @blp.alt_response(403, description="Not your post", **ERROR)
    @blp.alt_response(404, description="No such post", **ERROR)
    @auth_required()
    def patch(self, changes, post_id):
        """Edit my post (title, text)"""
        return posts.post_update(user=current_user(), post_id=post_id, changes=changes)

    @blp.response(204)
    @blp.alt_response(403, description="Not your post, and you are not staff", **ERROR)
    @blp.alt_response(404, description="No such post", **ERROR)
    @auth_required()
    def delete(self, post_id):
        """Delete a post with its comments (its author; staff may delete any)"""
        posts.post_delete(user=current_user(), post_id=post_id)


@blp.route("/api/posts/<int:post_id>/comments")
class PostComments(MethodView):
    @blp.arguments(CommentCreateSchema)
    @blp.response(201, PostCommentSchema)
    @blp.alt_response(404, description="No such post", **ERROR)
    @auth_required()
    def post(self, body, post_id):
        """Comment on a post (anyone signed in); the post's author is notified"""
        return posts.comment_create(user=current_user(), post_id=post_id, text=body["text"])


@blp.route("/api/posts/<int:post_id>/comments/<int:comment_id>")
class PostCommentDetail(MethodView):
    @blp.response(204)
    @blp.alt_response(403, description="Not your comment, and you are not staff", **ERROR)
    @blp.alt_response(404, description="No such post, or no such comment on it", **ERROR)
    @auth_required()
    def delete(self, post_id, comment_id):
        """Delete a comment (its author; staff may delete any)"""
        posts.comment_delete(user=current_user(), post_id=post_id, comment_id=comment_id)


# ---- the caller's own profile ----

@blp.route("/api/me/profile")
class MyProfile(MethodView):
    @blp.response(200, MyProfileSchema)
    @blp.alt_response(404, description="You have no network profile yet (you have not written anything)", **ERROR)
    @auth_required()
    def get(self):
        """My network profile (what others see, plus visibility and what I edited)"""
        return profile.own_profile_get(user=current_user())

    @blp.arguments(MyProfileUpdateSchema)
    @blp.response(200, MyProfileSchema)
    @auth_required()
    def patch(self, changes):
        """Edit my network profile (biography, LinkedIn handle or URL, visibility)

        Creates the profile if you have none yet. What you set here is kept by re-imports from the alumni portal.
        """
        return profile.own_profile_update(user=current_user(), changes=changes)


def _picture_bytes():
    """The uploaded picture: the whole body (an `image/*` Content-Type) or the one file of a multipart body, at
    most MAX_PICTURE_BYTES (413 beyond; this route's own limit instead of MAX_CONTENT_LENGTH)."""
    limit = current_app.config["MAX_PICTURE_BYTES"]
    too_large = ApiError(f"the picture is larger than MAX_PICTURE_BYTES ({limit} bytes)", code=413)
    if request.mimetype.startswith("image/"):
        request.max_content_length = limit
        try:
            return request.get_data(cache=False)
        except RequestEntityTooLarge:
            raise too_large from None
    if request.mimetype != "multipart/form-data":
        raise ApiError("send the picture as the body with an image/* Content-Type, or as multipart/form-data "
                       f"(got {request.mimetype or 'no Content-Type'!r})", code=415)
    request.max_content_length = limit + MULTIPART_OVERHEAD
    try:
        uploads = list(request.files.items(multi=True))
        fields = list(request.form)
    except RequestEntityTooLarge:
        raise too_large from None
    if fields or len(uploads) != 1:
        raise ValidationFailed("send exactly one file and nothing else",
                               errors={"files": [f"{len(uploads)} file(s) and {len(fields)} other field(s)"]})
    data = uploads[0][1].read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data


@blp.route("/api/me/profile/picture")
class MyPicture(MethodView):
    @blp.doc(requestBody=PICTURE_BODY)
    @blp.response(200, MyProfileSchema)
    @blp.alt_response(413, description="Larger than `MAX_PICTURE_BYTES`", **ERROR)
    @blp.alt_response(415, description="Neither an image/* body nor multipart/form-data", **ERROR)
    @blp.alt_response(422, description="Not a picture in a supported format (nothing is stored)", **ERROR)
    @auth_required()
    def put(self):
        """Set my profile picture

        Checked and re-encoded: JPEG, PNG, WebP or GIF only (never SVG), metadata (EXIF, GPS) removed, at most
        512×512. Served at `/media/<key>.<ext>` (the profile's `profile_picture`).
        """
        return profile.profile_picture_set(user=current_user(), data=_picture_bytes())

    @blp.response(204)
    @auth_required()
    def delete(self):
        """Remove my profile picture"""
        profile.profile_picture_delete(user=current_user())


@blp.route("/api/me/employment-history")
class MyJobs(MethodView):
    @blp.doc(requestBody=_json_body(EmploymentCreateSchema, oneOf=[{"required": ["company"]},
                                                                   {"required": ["company_name"]}]))
    @blp.arguments(EmploymentCreateSchema)
    @blp.response(201, EmploymentHistorySchema)
    @blp.alt_response(404, description="No company has the id given as `company`", **ERROR)
    @auth_required()
    def post(self, body):
        """Add a job to my employment history

        The company by id (`company`) or by name (`company_name`: created unless a company has that name),
        exactly one; `end_date` null means to this day.
        """
        return profile.employment_create(user=current_user(), **body)


@blp.route("/api/me/employment-history/<int:employment_id>")
class MyJob(MethodView):
    @blp.doc(requestBody=_json_body(EmploymentWriteSchema, **{"not": {"required": ["company", "company_name"]}}))
    @blp.arguments(EmploymentWriteSchema(partial=True))
    @blp.response(200, EmploymentHistorySchema)
    @blp.alt_response(404, description="You have no job with this id, or no company has the id given as `company`",
                      **ERROR)
    @blp.alt_response(409, description="The job was imported from the alumni portal", **ERROR)
    @auth_required()
    def patch(self, changes, employment_id):
        """Change one of my jobs"""
        return profile.employment_update(user=current_user(), employment_id=employment_id, changes=changes)

    @blp.response(204)
    @blp.alt_response(404, description="You have no job with this id", **ERROR)
    @blp.alt_response(409, description="The job was imported from the alumni portal", **ERROR)
    @auth_required()
    def delete(self, employment_id):
        """Remove one of my jobs"""
        profile.employment_delete(user=current_user(), employment_id=employment_id)


# ---- pictures ----

@blp.route("/media/<string(length=64):key>.<string:extension>")
class MediaFile(MethodView):
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="image/jpeg",
                  description="The picture (`image/jpeg` or `image/png`), immutable: cache it for a year")
    @blp.alt_response(304, **NOT_MODIFIED)
    @blp.alt_response(404, description="No picture has this key and extension", **ERROR)
    def get(self, key, extension):
        """A stored picture (no token needed: its sha256 key is unguessable)"""
        media = media_find(key=key, extension=extension)
        headers = {"ETag": f'"{media.key}"', "Cache-Control": MEDIA_CACHE_CONTROL}
        if request.if_none_match.contains_weak(media.key):
            return Response(status=304, headers=headers)
        return Response(media.data, mimetype=media.content_type, headers=headers)
