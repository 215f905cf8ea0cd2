"""LinkedIn profile addresses reduced to the handle the app shows (``social_id_1``): ``jelena-zoric`` from
``https://www.linkedin.com/in/jelena-zoric/``, ``rs.linkedin.com/in/jelena-zoric?trk=…`` or ``jelena-zoric`` itself.

Shared by the portal import and the profile edit of the network API, so both store the same thing.
"""
import re
from urllib.parse import unquote, urlsplit

# LinkedIn's public profile names ("custom URLs") are 3–100 letters, digits and hyphens; older ones also have
# underscores and non-ASCII letters (percent-encoded in addresses).
# Neither starts nor ends with a hyphen.
HANDLE = re.compile(r"(?!-)[\w\-]{3,100}(?<!-)")


def linkedin_handle(text):
    """The handle of the LinkedIn profile ``text`` names (a profile address on any linkedin.com host, or a bare
    handle); None for empty text. Raises ValueError for anything else (another site, a company page, an old
    ``/pub/`` address, a handle with characters LinkedIn does not allow)."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    if "/" not in text and "." not in text:
        return _handle_checked(text.removeprefix("@"), text)
    address = text if "://" in text else "https://" + text
    parts = urlsplit(address)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (host == "linkedin.com" or host.endswith(".linkedin.com")):
        raise ValueError(f"{text!r} is not a LinkedIn address")
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) < 2 or segments[0].lower() != "in":
        raise ValueError(f"{text!r} is not a LinkedIn profile address (linkedin.com/in/<name>)")
    return _handle_checked(unquote(segments[1]), text)


def _handle_checked(handle, text):
    if not HANDLE.fullmatch(handle):
        raise ValueError(f"{text!r} is not a LinkedIn profile name")
    return handle
