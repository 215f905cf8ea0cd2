"""HTTP routes of the webhook blueprint (its capability lands with its own issue)."""
from raf_network.extensions import Blueprint

blp = Blueprint("webhook", __name__, url_prefix="/api", description="webhook")
