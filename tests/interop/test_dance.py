"""The OAuth 1.0a dance against a real `latchkey serve`, driven by client libraries
written independently of Latchkey: oauthlib / requests-oauthlib and Authlib.

Each test asserts what the client library itself made of the answer: the tokens it
parsed, or the problem it reports (requests-oauthlib raises TokenRequestDenied with the
response, whose form-encoded body names the `oauth_problem`).
"""

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from authlib.integrations.requests_client import OAuth1Session as AuthlibSession
from oauthlib.oauth1 import SIGNATURE_HMAC, SIGNATURE_PLAINTEXT, SIGNATURE_RSA, Client
from requests_oauthlib import OAuth1Session
from requests_oauthlib.oauth1_session import TokenRequestDenied

from conftest import ACCESS_TOKEN_PATH, AUTHORIZE_PATH, REQUEST_TOKEN_PATH
from latchkey.v1 import admin_pb2

CALLBACK = "https://app.example.com/oauth/callback?state=abc"
RESOURCE = "https://jira.example.com/rest/api/2/myself?expand=groups"
SEVEN_DAYS = str(7 * 24 * 3600)


def problem_of(denied: TokenRequestDenied):
    """The status and `oauth_problem` of a refusal, as the library hands it over."""
    body = parse_qs(denied.response.text)
    challenge = denied.response.headers.get("WWW-Authenticate", "")
    problem = body["oauth_problem"][0]
    assert f'oauth_problem="{problem}"' in challenge, challenge
    return denied.status_code, problem


def validate_resource_request(latchkey, consumer_key, access, **signing):
    """Signs a resource request with oauthlib's Client and the access token, and asks
    ValidateAccess (gRPC) about it, as a resource service would."""
    client = Client(
        consumer_key,
        resource_owner_key=access["oauth_token"],
        resource_owner_secret=access["oauth_token_secret"],
        **signing,
    )
    url, headers, _ = client.sign(RESOURCE, http_method="GET")
    return latchkey.validate("GET", url, text(headers["Authorization"]))


def text(header):
    """A header value as text (requests-oauthlib and friends may hand over bytes)."""
    return header.decode() if isinstance(header, bytes) else header


def requests_oauthlib_dance(latchkey, consumer_key, user, **signing):
    session = OAuth1Session(consumer_key, callback_uri=CALLBACK, **signing)
    fetched = session.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert fetched["oauth_callback_confirmed"] == "true"
    token = fetched["oauth_token"]
    assert set(fetched) == {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}

    # The consumer sends the browser to Latchkey's authorize URL; the frontend decides.
    sent_to = session.authorization_url(latchkey.url(AUTHORIZE_PATH))
    assert parse_qs(urlparse(sent_to).query)["oauth_token"] == [token]
    decision = latchkey.decide(token, user)
    assert decision.redirect_url.startswith(CALLBACK + "&")

    # The browser comes back to the callback; the library reads the verifier there.
    returned = session.parse_authorization_response(decision.redirect_url)
    assert returned["oauth_token"] == token
    assert returned["oauth_verifier"] == decision.verifier

    access = session.fetch_access_token(latchkey.url(ACCESS_TOKEN_PATH))
    assert access["oauth_token"] != token
    assert access["oauth_expires_in"] == SEVEN_DAYS
    return access


def test_requests_oauthlib_completes_the_dance_with_rsa_sha1(latchkey, rsa_key):
    latchkey.register("rsa-link", public_key=rsa_key.public_pem)
    access = requests_oauthlib_dance(
        latchkey, "rsa-link", "alice", signature_method=SIGNATURE_RSA, rsa_key=rsa_key.private_pem
    )
    principal = validate_resource_request(
        latchkey, "rsa-link", access, signature_method=SIGNATURE_RSA, rsa_key=rsa_key.private_pem
    )
    assert (principal.user_id, principal.consumer_key) == ("alice", "rsa-link")
    # Nothing secret reached the server's log.
    log = latchkey.log()
    for value in (access["oauth_token"], access["oauth_token_secret"]):
        assert value not in log


def test_requests_oauthlib_completes_the_dance_with_hmac_sha1(latchkey):
    secret = latchkey.register("hmac-app", generate_shared_secret=True).generated_shared_secret
    access = requests_oauthlib_dance(latchkey, "hmac-app", "bob", client_secret=secret)
    principal = validate_resource_request(
        latchkey, "hmac-app", access, client_secret=secret, signature_method=SIGNATURE_HMAC
    )
    assert (principal.user_id, principal.consumer_key) == ("bob", "hmac-app")


@pytest.mark.parametrize("method", ["HMAC-SHA1", "RSA-SHA1"])
def test_authlib_completes_the_dance(latchkey, rsa_key, method):
    if method == "RSA-SHA1":
        latchkey.register("authlib-app", public_key=rsa_key.public_pem)
        signing = {"signature_method": "RSA-SHA1", "rsa_key": rsa_key.private_pem}
        client = AuthlibSession("authlib-app", redirect_uri=CALLBACK, **signing)
    else:
        secret = latchkey.register("authlib-app", generate_shared_secret=True).generated_shared_secret
        client = AuthlibSession("authlib-app", secret, redirect_uri=CALLBACK)

    fetched = client.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert fetched["oauth_callback_confirmed"] == "true"
    sent_to = client.create_authorization_url(latchkey.url(AUTHORIZE_PATH))
    assert parse_qs(urlparse(sent_to).query)["oauth_token"] == [fetched["oauth_token"]]
    decision = latchkey.decide(fetched["oauth_token"], "carol")
    client.parse_authorization_response(decision.redirect_url)
    access = client.fetch_access_token(latchkey.url(ACCESS_TOKEN_PATH))
    assert access["oauth_token"] != fetched["oauth_token"]
    assert access["oauth_expires_in"] == SEVEN_DAYS

    # Authlib signs the resource request too; a resource service hands it to Latchkey.
    resource = client.auth(requests.Request("GET", RESOURCE).prepare())
    principal = latchkey.validate("GET", RESOURCE, text(resource.headers["Authorization"]))
    assert (principal.user_id, principal.consumer_key) == ("carol", "authlib-app")


def test_an_oob_dance_ends_with_a_code_the_user_types(latchkey):
    secret = latchkey.register("desktop", generate_shared_secret=True).generated_shared_secret
    session = OAuth1Session("desktop", client_secret=secret, callback_uri="oob")
    fetched = session.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert fetched["oauth_callback_confirmed"] == "true"
    decision = latchkey.decide(fetched["oauth_token"], "dave")
    assert decision.out_of_band and decision.redirect_url == ""
    assert len(decision.verifier) == 10
    access = session.fetch_access_token(
        latchkey.url(ACCESS_TOKEN_PATH), verifier=decision.verifier
    )
    assert set(access) == {"oauth_token", "oauth_token_secret", "oauth_expires_in"}


def test_a_denied_dance_is_reported_to_the_consumer(latchkey):
    secret = latchkey.register("refused", generate_shared_secret=True).generated_shared_secret
    session = OAuth1Session("refused", client_secret=secret, callback_uri=CALLBACK)
    fetched = session.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    decision = latchkey.decide(fetched["oauth_token"], "erin", approve=False)
    returned = session.parse_authorization_response(decision.redirect_url)
    assert returned["oauth_problem"] == "user_refused"
    assert "oauth_verifier" not in returned

    with pytest.raises(TokenRequestDenied) as denied:
        session.fetch_access_token(latchkey.url(ACCESS_TOKEN_PATH), verifier="a-guess")
    assert problem_of(denied.value) == (401, "permission_denied")


def test_a_replayed_request_is_refused_as_nonce_used(latchkey):
    secret = latchkey.register("replayer", generate_shared_secret=True).generated_shared_secret
    timestamp = str(int(time.time()))

    def session():
        # The same nonce and timestamp each time: the second request is a replay of
        # the first, byte for byte.
        return OAuth1Session(
            "replayer",
            client_secret=secret,
            callback_uri="oob",
            nonce="the-same-nonce-twice",
            timestamp=timestamp,
        )

    first = session().fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert first["oauth_token"]
    with pytest.raises(TokenRequestDenied) as denied:
        session().fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert problem_of(denied.value) == (401, "nonce_used")


def test_a_request_signed_with_the_wrong_key_is_refused(latchkey, rsa_key, other_rsa_key):
    latchkey.register("keyed", public_key=rsa_key.public_pem)
    session = OAuth1Session(
        "keyed",
        callback_uri=CALLBACK,
        signature_method=SIGNATURE_RSA,
        rsa_key=other_rsa_key.private_pem,
    )
    with pytest.raises(TokenRequestDenied) as denied:
        session.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert problem_of(denied.value) == (401, "signature_invalid")

    secret = latchkey.register("secreted", generate_shared_secret=True).generated_shared_secret
    session = OAuth1Session("secreted", client_secret=secret + "x", callback_uri=CALLBACK)
    with pytest.raises(TokenRequestDenied) as denied:
        session.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    assert problem_of(denied.value) == (401, "signature_invalid")


def test_an_expired_request_token_cannot_be_exchanged(start_latchkey):
    latchkey = start_latchkey({"OAUTH1__REQUEST_TOKEN_TTL_SECONDS": "2"})
    secret = latchkey.register("slow", generate_shared_secret=True).generated_shared_secret
    session = OAuth1Session("slow", client_secret=secret, callback_uri=CALLBACK)
    fetched = session.fetch_request_token(latchkey.url(REQUEST_TOKEN_PATH))
    decision = latchkey.decide(fetched["oauth_token"], "frank")
    session.parse_authorization_response(decision.redirect_url)
    time.sleep(2.2)
    with pytest.raises(TokenRequestDenied) as denied:
        session.fetch_access_token(latchkey.url(ACCESS_TOKEN_PATH))
    assert problem_of(denied.value) == (401, "token_expired")


# oauthlib encodes a PLAINTEXT signature twice, as RFC 5849 sections 3.4.4 and 3.5.1
# ask: each secret once into the signature, and the signature again into the header.
# A secret with reserved characters shows it. PLAINTEXT is accepted only over https:
# the server's public base URL is https, as behind a TLS-terminating ingress, while
# the request itself travels over plain HTTP to the server's own port.
def test_oauthlib_plaintext_encodes_reserved_characters_as_the_rfc_asks(start_latchkey):
    latchkey = start_latchkey(public_scheme="https")
    secret = "s3cret&with/reserved=chars+%~"
    latchkey.register(
        "plain", shared_secret=secret, signature_methods=[admin_pb2.SIGNATURE_METHOD_PLAINTEXT]
    )
    client = Client(
        "plain", client_secret=secret, signature_method=SIGNATURE_PLAINTEXT, callback_uri="oob"
    )
    _, headers, _ = client.sign(latchkey.url(REQUEST_TOKEN_PATH), http_method="POST")
    assert "oauth_signature=\"s3cret%2526with%252Freserved%253Dchars%252B%2525~%26\"" in (
        headers["Authorization"]
    )
    response = requests.post(latchkey.pod_url(REQUEST_TOKEN_PATH), headers=headers)
    assert response.status_code == 200, response.text
    assert parse_qs(response.text)["oauth_callback_confirmed"] == ["true"]
