"""LinkedIn handles: what the app shows as ``social_id_1`` (``jelena-zoric``), from a handle or a profile URL.

People paste their profile URL as LinkedIn shows it — any linkedin.com host (``www.``, ``rs.``, ``m.`` …), with or
without the scheme, a trailing slash, a query string — and the portal stores the same kind of URL. Both reduce to
the handle, the last part of ``/in/<handle>``. Anything else (another site, a company page, a search) is refused.
"""
import re
from urllib.parse import unquote, urlsplit

# LinkedIn's custom URLs: 3–100 letters (any alphabet: a percent-encoded Serbian name is allowed), digits, hyphens.
HANDLE = re.compile(r"^[\w-]{3,100}$")
HANDLE_MAX = 100


def linkedin_handle(text):
    """The handle in ``text`` (a handle, or a LinkedIn profile URL), or None when ``text`` is empty.

    Raises ValueError when ``text`` is neither (the message says why)."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if "/" not in text and "." not in text:
        return _checked(text)
    url = urlsplit(text if "://" in text else f"https://{text}")
    host = (url.hostname or "").lower()
    if url.scheme not in ("http", "https") or not (host == "linkedin.com" or host.endswith(".linkedin.com")):
        raise ValueError("not a LinkedIn profile URL (https://www.linkedin.com/in/<handle>) nor a handle")
    parts = [part for part in url.path.split("/") if part]
    if len(parts) != 2 or parts[0].lower() != "in":
        raise ValueError("a LinkedIn profile URL has the form https://www.linkedin.com/in/<handle>")
    return _checked(unquote(parts[1]))


def _checked(handle):
    if "_" in handle or not HANDLE.match(handle):
        raise ValueError("a LinkedIn handle is 3–100 letters, digits or hyphens")
    return handle
