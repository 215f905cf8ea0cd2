"""Swagger UI's static assets, from the pinned swagger-ui-bundle package: /api/docs works offline and its
page loads nothing from a third party. (The page itself and /api/openapi.json are flask-smorest's.)"""
from flask import Blueprint, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

blp = Blueprint("api_docs", __name__, url_prefix="/api/docs/assets")

# What the page loads (flask-smorest's swagger_ui.html): nothing else of the bundle is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                    "favicon-16x16.png", "favicon-32x32.png"})


@blp.get("/<string:filename>")
def swagger_ui_asset(filename):
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
