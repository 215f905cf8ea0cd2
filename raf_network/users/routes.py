"""HTTP routes of the users blueprint (its capability lands with its own issue)."""
from raf_network.extensions import Blueprint

blp = Blueprint("users", __name__, url_prefix="/api", description="users")
