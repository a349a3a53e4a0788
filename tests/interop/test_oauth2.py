"""OAuth 2.0 authorization-code grants against a real `latchkey serve`, driven by client
libraries written independently of Latchkey: requests-oauthlib's OAuth2Session and
Authlib's OAuth2Session, both with PKCE (S256), and requests-oauth2client, which finds
the endpoints by RFC 8414 discovery alone and checks every authorization response's
`iss` (RFC 9207). The harness plays the consent frontend: it follows
GET /oauth2/authorize to the consent page and calls Authorize over gRPC with the
request it finds there, then hands the client library the redirect it got back.

Each test goes through the grant, a refresh, introspection and revocation, and checks
what the client library made of the answers.
"""

import os
from urllib.parse import parse_qsl, urlparse

import grpc
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session as AuthlibOAuth2Session
from requests.auth import HTTPBasicAuth
from requests_oauth2client import (
    AuthorizationResponseError,
    InvalidParam,
    MismatchingIssuer,
    MissingIssuer,
    OAuth2Client,
)
from requests_oauthlib import OAuth2Session

from conftest import ADMIN, FRONTEND, bearer
from latchkey.v1 import admin_pb2, authority_pb2

REDIRECT_URI = "https://client.example.com/callback"
CONSENT_PAGE = "https://consent.example.com/approve"


@pytest.fixture(autouse=True)
def plain_http_to_the_test_server(monkeypatch):
    # The test server listens on plain http on 127.0.0.1; both libraries refuse that
    # unless told it is a test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def server(start_latchkey):
    return start_latchkey({"HTTP__CONSENT_PAGE_URL": CONSENT_PAGE})


def register(server, client_id, confidential):
    request = admin_pb2.RegisterOAuth2ClientRequest(
        client_id=client_id,
        name=f"{client_id} app",
        confidential=confidential,
        redirect_uris=[REDIRECT_URI],
        scopes=["read", "write"],
    )
    return server.admin.RegisterOAuth2Client(request, metadata=bearer(ADMIN)).client_secret


def consent(server, authorization_url, approve=True):
    """The browser goes to /oauth2/authorize, on to the consent page; the frontend asks
    Authorize and sends the browser back to the client: that redirect is returned."""
    answer = requests.get(authorization_url, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CONSENT_PAGE + "?")
    params = dict(parse_qsl(urlparse(location).query))
    oauth2 = authority_pb2.OAuth2AuthorizationRequest(
        **{name: params.get(name, "") for name in (
            "response_type", "client_id", "redirect_uri", "scope", "state",
            "code_challenge", "code_challenge_method",
        )}
    )
    described = server.authority.Authorize(
        authority_pb2.AuthorizeRequest(oauth2=oauth2), metadata=bearer(FRONTEND)
    )
    assert described.client_name.endswith(" app")
    decision = authority_pb2.DECISION_APPROVE if approve else authority_pb2.DECISION_DENY
    decided = server.authority.Authorize(
        authority_pb2.AuthorizeRequest(oauth2=oauth2, user_id="alice", decision=decision),
        metadata=bearer(FRONTEND),
    )
    assert decided.redirect_url.startswith(REDIRECT_URI)
    return decided.redirect_url


def validate(server, access_token):
    response = server.authority.ValidateAccess(
        authority_pb2.ValidateAccessRequest(bearer_token=access_token)
    )
    return response.principal


def test_requests_oauthlib_completes_the_grant_refreshes_introspects_and_revokes(server):
    secret = register(server, "oauthlib-app", confidential=True)
    token_url = server.pod_url("/oauth2/token")
    session = OAuth2Session(
        "oauthlib-app", redirect_uri=REDIRECT_URI, scope=["read", "write"], pkce="S256"
    )
    url, state = session.authorization_url(server.pod_url("/oauth2/authorize"))
    assert "code_challenge_method=S256" in url
    redirect = consent(server, url)
    token = session.fetch_token(token_url, authorization_response=redirect, client_secret=secret)
    assert token["token_type"] == "Bearer"
    assert set(token["scope"]) == {"read", "write"}
    principal = validate(server, token["access_token"])
    assert (principal.user_id, principal.consumer_key) == ("alice", "oauthlib-app")
    assert list(principal.scopes) == ["read", "write"]

    # The library's own resource call carries the bearer token.
    assert session.authorized

    basic = HTTPBasicAuth("oauthlib-app", secret)
    refreshed = session.refresh_token(token_url, auth=basic)
    assert refreshed["refresh_token"] != token["refresh_token"]
    validate(server, refreshed["access_token"])

    introspect = server.pod_url("/oauth2/introspect")
    answer = requests.post(introspect, data={"token": refreshed["access_token"]}, auth=basic)
    assert answer.status_code == 200
    assert answer.json()["active"] is True
    assert answer.json()["client_id"] == "oauthlib-app"

    # The old refresh token again is a reuse: the whole grant goes.
    with pytest.raises(Exception) as reused:
        session.refresh_token(token_url, refresh_token=token["refresh_token"], auth=basic)
    assert "invalid_grant" in str(reused.value)
    answer = requests.post(introspect, data={"token": refreshed["access_token"]}, auth=basic)
    assert answer.json() == {"active": False}

    # RFC 7009 on a fresh grant: revoking the refresh token ends its access token.
    url, _ = session.authorization_url(server.pod_url("/oauth2/authorize"))
    token = session.fetch_token(
        token_url, authorization_response=consent(server, url), client_secret=secret
    )
    revoked = requests.post(
        server.pod_url("/oauth2/revoke"),
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        auth=basic,
    )
    assert revoked.status_code == 200
    with pytest.raises(grpc.RpcError) as refused:
        validate(server, token["access_token"])
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_authlib_public_client_with_pkce_completes_the_grant_refreshes_introspects_and_revokes(
    server,
):
    assert register(server, "authlib-spa", confidential=False) == ""
    token_url = server.pod_url("/oauth2/token")
    client = AuthlibOAuth2Session(
        "authlib-spa",
        redirect_uri=REDIRECT_URI,
        scope="read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, state = client.create_authorization_url(
        server.pod_url("/oauth2/authorize"), code_verifier=verifier
    )
    redirect = consent(server, url)
    token = client.fetch_token(token_url, authorization_response=redirect, code_verifier=verifier)
    assert token["scope"] == "read"
    assert validate(server, token["access_token"]).consumer_key == "authlib-spa"

    refreshed = client.refresh_token(token_url)
    assert refreshed["refresh_token"] != token["refresh_token"]

    answer = client.introspect_token(
        server.pod_url("/oauth2/introspect"), token=refreshed["access_token"]
    )
    assert answer.status_code == 200 and answer.json()["active"] is True

    answer = client.revoke_token(
        server.pod_url("/oauth2/revoke"),
        token=refreshed["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert answer.status_code == 200
    answer = client.introspect_token(
        server.pod_url("/oauth2/introspect"), token=refreshed["access_token"]
    )
    assert answer.json() == {"active": False}


def test_authlib_confidential_client_with_client_secret_post_and_a_wrong_verifier(server):
    secret = register(server, "authlib-web", confidential=True)
    client = AuthlibOAuth2Session(
        "authlib-web",
        secret,
        redirect_uri=REDIRECT_URI,
        scope="read write",
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )
    verifier = generate_token(48)
    url, _ = client.create_authorization_url(
        server.pod_url("/oauth2/authorize"), code_verifier=verifier
    )
    redirect = consent(server, url)
    with pytest.raises(Exception) as refused:
        client.fetch_token(
            server.pod_url("/oauth2/token"),
            authorization_response=redirect,
            code_verifier=generate_token(48),
        )
    assert "invalid_grant" in str(refused.value)
    token = client.fetch_token(
        server.pod_url("/oauth2/token"), authorization_response=redirect, code_verifier=verifier
    )
    assert validate(server, token["access_token"]).user_id == "alice"


def test_a_denial_reaches_the_client_as_access_denied_with_its_state(server):
    register(server, "denied-app", confidential=True)
    session = OAuth2Session("denied-app", redirect_uri=REDIRECT_URI, scope=["read"], pkce="S256")
    url, state = session.authorization_url(server.pod_url("/oauth2/authorize"))
    params = dict(parse_qsl(urlparse(consent(server, url, approve=False)).query))
    assert params == {"error": "access_denied", "state": state, "iss": server.public_base_url}


METADATA_PATH = "/.well-known/oauth-authorization-server"


def discovered(server, client_id, secret=None, issuer=None):
    """requests-oauth2client, configured by discovery alone. `testing` only lets it use
    the test server's plain http; the issuer check still runs."""
    return OAuth2Client.from_discovery_endpoint(
        server.pod_url(METADATA_PATH),
        issuer=issuer or server.public_base_url,
        client_id=client_id,
        client_secret=secret,
        redirect_uri=REDIRECT_URI,
        testing=True,
    )


def with_query(url, **changes):
    """`url` with query parameters replaced, or removed when None."""
    parsed = urlparse(url)
    params = {k: v for k, v in parse_qsl(parsed.query)}
    params.update(changes)
    query = "&".join(
        f"{k}={requests.utils.quote(v, safe='')}" for k, v in params.items() if v is not None
    )
    return parsed._replace(query=query).geturl()


def test_requests_oauth2client_discovers_the_server_and_checks_iss_through_the_grant(server):
    secret = register(server, "discovering-app", confidential=True)
    client = discovered(server, "discovering-app", secret)
    assert client.issuer == server.public_base_url
    assert client.authorization_response_iss_parameter_supported
    # Only what discovery said: every endpoint is the server's.
    assert client.token_endpoint == server.public_base_url + "/oauth2/token"
    assert client.revocation_endpoint == server.public_base_url + "/oauth2/revoke"
    metadata = requests.get(server.pod_url(METADATA_PATH)).json()
    assert metadata["code_challenge_methods_supported"] == ["S256"]

    # It adds a nonce Latchkey does not define: ignored (RFC 6749 section 3.1).
    request = client.authorization_request(
        scope="read write",
        authorization_response_iss_parameter_supported=True,
    )
    assert request.code_challenge_method == "S256"
    redirect = consent(server, str(request.uri))
    assert dict(parse_qsl(urlparse(redirect).query))["iss"] == server.public_base_url
    # A mix-up, an answer from elsewhere or one without iss, is refused by the library.
    with pytest.raises(MismatchingIssuer):
        request.validate_callback(with_query(redirect, iss="https://elsewhere.example.com"))
    with pytest.raises(MissingIssuer):
        request.validate_callback(with_query(redirect, iss=None))
    response = request.validate_callback(redirect)

    token = client.authorization_code(response)
    assert token.scope == "read write"
    principal = validate(server, token.access_token)
    assert (principal.user_id, principal.consumer_key) == ("alice", "discovering-app")

    refreshed = client.refresh_token(token)
    assert refreshed.refresh_token != token.refresh_token
    assert client.introspect_token(refreshed.access_token)["active"] is True
    assert client.revoke_refresh_token(refreshed.refresh_token)
    assert client.introspect_token(refreshed.access_token) == {"active": False}


def test_requests_oauth2client_refuses_another_issuer_and_reads_a_denial(server):
    register(server, "wary-app", confidential=True)
    with pytest.raises(InvalidParam):
        discovered(server, "wary-app", "x", issuer="https://elsewhere.example.com")
    client = discovered(server, "wary-app", "x")
    request = client.authorization_request(
        scope="read", authorization_response_iss_parameter_supported=True
    )
    with pytest.raises(AuthorizationResponseError) as denied:
        request.validate_callback(consent(server, str(request.uri), approve=False))
    assert denied.value.error == "access_denied"


def test_introspection_refuses_a_bad_bearer_credential_the_rfc_6750_way(server):
    answer = requests.post(
        server.pod_url("/oauth2/introspect"),
        data={"token": "x"},
        headers={"Authorization": "Bearer not-a-credential"},
    )
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert answer.json()["error"] == "invalid_token"
