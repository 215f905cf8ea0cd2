"""HTTP routes of the notifications blueprint (its capability lands with its own issue)."""
from raf_network.extensions import Blueprint

blp = Blueprint("notifications", __name__, url_prefix="/api", description="notifications")
