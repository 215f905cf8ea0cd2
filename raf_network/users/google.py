"""The one place that verifies Google ID tokens (Sign in with Google).

A token is accepted only when its RS256 signature checks out against Google's published keys (JWKS from
``GOOGLE_CERTS_URL``, fetched once and cached per process), its audience is one of ``GOOGLE_CLIENT_IDS`` (the
apps; the officers' console asks for its web client id instead), its issuer is Google's, it has not expired and
Google vouches for the e-mail address (``email_verified``).
"""
from dataclasses import dataclass

import jwt
from flask import current_app

from raf_network.errors import ApiError, Unauthorized

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
# Tolerated clock difference between Google and us, in seconds.
CLOCK_SKEW = 30
# How long the fetched key set is trusted before it is fetched again. Google rotates keys every few days
# and publishes the next one in advance; an unknown key id also triggers a refetch (at most every 30 s).
KEY_SET_LIFESPAN = 3600
FETCH_TIMEOUT = 5


@dataclass(frozen=True)
class GoogleIdentity:
    """What a verified ID token tells us about the person signing in."""

    subject: str
    email: str
    given_name: str | None
    family_name: str | None


class SignInUnavailable(ApiError):
    """Google's keys cannot be fetched right now: not the client's fault, so 503 with Retry-After."""

    code = 503


def _jwk_client():
    url = current_app.config["GOOGLE_CERTS_URL"]
    clients = current_app.extensions.setdefault("google_jwk_clients", {})
    client = clients.get(url)
    if client is None:
        client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=KEY_SET_LIFESPAN, timeout=FETCH_TIMEOUT)
        clients[url] = client
    return client


def google_id_token_verify(id_token, *, audience=None):
    """The identity in a Google ID token. Unauthorized (401) for any token we should not trust.

    ``audience``: the OAuth client ids the token may be issued for; default ``GOOGLE_CLIENT_IDS`` (the apps). The
    officers' console passes its web client's id (``GOOGLE_WEB_CLIENT_ID``).
    """
    client_ids = list(current_app.config["GOOGLE_CLIENT_IDS"] if audience is None else audience)
    if not client_ids:
        # No audience can match; the token is refused like any other (401), and the operator is told.
        current_app.logger.error("Google sign-in attempted but no client id to accept is configured "
                                 "(GOOGLE_CLIENT_IDS for the apps, GOOGLE_WEB_CLIENT_ID for the console)")
        raise Unauthorized("Google sign-in is not configured on this server")
    try:
        signing_key = _jwk_client().get_signing_key_from_jwt(id_token)
    except jwt.PyJWKClientConnectionError as exc:
        current_app.logger.warning("Google signing keys unreachable: %s", exc)
        raise SignInUnavailable("Google's signing keys are unreachable; retry shortly",
                                headers={"Retry-After": "5"}) from None
    except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.PyJWTError):
        # Malformed token, or signed with a key Google does not publish.
        raise Unauthorized("the Google ID token is invalid") from None
    try:
        claims = jwt.decode(
            id_token, signing_key.key, algorithms=["RS256"], audience=client_ids, issuer=ISSUERS,
            leeway=CLOCK_SKEW, options={"require": ["exp", "iat", "iss", "aud", "sub", "email"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the Google ID token has expired") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("the Google ID token was issued for another application") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("the Google ID token was not issued by Google") from None
    except jwt.PyJWTError:
        raise Unauthorized("the Google ID token is invalid") from None
    _authorized_party_check(claims, client_ids)
    # Google sends a boolean; very old tokens carried the string "true".
    if claims.get("email_verified") not in (True, "true"):
        raise Unauthorized("Google has not verified this e-mail address")
    email = str(claims["email"]).strip().lower()
    if email.count("@") != 1 or not email.split("@")[0] or not email.split("@")[1]:
        raise Unauthorized("the Google ID token carries no usable e-mail address")
    return GoogleIdentity(
        subject=str(claims["sub"]), email=email,
        given_name=_text_claim(claims.get("given_name")), family_name=_text_claim(claims.get("family_name")),
    )


def _authorized_party_check(claims, client_ids):
    """With several audiences, the token must name the party it was issued to (``azp``), and that party must
    be one of ours (OpenID Connect Core 3.1.3.7; Google's guidance). With one audience ``azp`` is the
    Android/iOS client that asked for a token for our web client id, and is not required to be configured."""
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") not in client_ids:
        raise Unauthorized("the Google ID token was issued to another application (azp)")


def _text_claim(value):
    return value.strip()[:100] if isinstance(value, str) and value.strip() else None
