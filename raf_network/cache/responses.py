"""A cached body as an HTTP response: 200 (gzipped when the client accepts it) or 304, through werkzeug's own
conditional-request handling (``set_etag`` + ``make_conditional``)."""
from flask import current_app, request


def conditional_response(body, how="miss", *, max_age=None, private=False):
    """The response for ``body``: weak ETag (the raw and gzipped forms are one representation), ``Cache-Control``
    (``public`` for open data like the catalogue, ``private`` for what needs a signed-in caller), ``Vary:
    Accept-Encoding`` and ``X-Cache`` (how the body was found). ``If-None-Match`` with its ETag → 304."""
    if max_age is None:
        max_age = current_app.config["CATALOGUE_MAX_AGE"]
    gzipped = request.accept_encodings["gzip"] > 0
    response = current_app.response_class(body.gz if gzipped else body.raw, mimetype="application/json")
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(body.etag, weak=True)
    response.headers["Cache-Control"] = f"{'private' if private else 'public'}, max-age={max_age}, must-revalidate"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Cache"] = how
    return response.make_conditional(request)
