"""2-legged OAuth against a real `latchkey serve`, signed by requests-oauthlib as a
consumer without a user's token would sign: an `OAuth1Session` with no resource owner
key, and the same with `xoauth_requestor_id` in the query for impersonation, as
Atlassian's application links send it.
"""

import base64
import os
import subprocess

import grpc
import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_RSA
from requests_oauthlib import OAuth1Session

from conftest import BINARY
from latchkey.v1 import admin_pb2, authority_pb2

RESOURCE = "https://jira.example.com/rest/api/2/issue/ABC-1?expand=names"


def signed_by(session, url):
    """The method, URL and Authorization the session would send for a GET of `url`."""
    prepared = requests.Request("GET", url, auth=session.auth).prepare()
    authorization = prepared.headers["Authorization"]
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    return prepared.url, authorization


def link(execute_as="", impersonation=False):
    return admin_pb2.TwoLeggedOAuth(
        allowed=True, execute_as_user=execute_as, allow_user_impersonation=impersonation
    )


def carries_problem(error: grpc.RpcError, problem: str):
    """Whether the refusal's details (`grpc-status-details-bin`, a google.rpc.Status
    whose ErrorInfo reason is the `oauth_problem`) name `problem`."""
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin", b"")
    return problem.encode() in details


def test_a_session_without_a_user_token_acts_as_the_links_execute_as_user(latchkey, rsa_key):
    latchkey.register("confluence", public_key=rsa_key.public_pem, two_legged=link("robot"))
    session = OAuth1Session(
        "confluence", signature_method=SIGNATURE_RSA, rsa_key=rsa_key.private_pem
    )
    url, authorization = signed_by(session, RESOURCE)
    assert "oauth_token" not in authorization
    principal = latchkey.validate("GET", url, authorization)
    assert (principal.user_id, principal.consumer_key) == ("robot", "confluence")
    assert principal.kind == authority_pb2.ACCESS_KIND_TWO_LEGGED
    assert principal.token_id == ""


def test_a_session_naming_xoauth_requestor_id_impersonates_that_user(latchkey):
    secret = latchkey.register(
        "bamboo", generate_shared_secret=True, two_legged=link(impersonation=True)
    ).generated_shared_secret
    session = OAuth1Session("bamboo", client_secret=secret)
    url, authorization = signed_by(session, RESOURCE + "&xoauth_requestor_id=alice%40example.com")
    principal = latchkey.validate("GET", url, authorization)
    assert principal.user_id == "alice@example.com"
    assert principal.kind == authority_pb2.ACCESS_KIND_IMPERSONATION


def test_two_legged_and_impersonation_are_refused_where_the_link_does_not_allow_them(latchkey):
    secret = latchkey.register("jira", generate_shared_secret=True).generated_shared_secret
    session = OAuth1Session("jira", client_secret=secret)
    url, authorization = signed_by(session, RESOURCE)
    with pytest.raises(grpc.RpcError) as refused:
        latchkey.validate("GET", url, authorization)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert carries_problem(refused.value, "permission_denied")

    secret = latchkey.register(
        "fisheye", generate_shared_secret=True, two_legged=link("robot")
    ).generated_shared_secret
    session = OAuth1Session("fisheye", client_secret=secret)
    url, authorization = signed_by(session, RESOURCE + "&xoauth_requestor_id=alice")
    with pytest.raises(grpc.RpcError) as refused:
        latchkey.validate("GET", url, authorization)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert carries_problem(refused.value, "permission_denied")


def test_the_command_line_sets_each_two_legged_setting(tmp_path):
    """`latchkey consumer add --two-legged ...` and `latchkey consumer two-legged`, the
    operator's way to the incoming-link settings, on a SQLite file of their own."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LATCHKEY_")}
    env.update(
        {
            "LATCHKEY_DATABASE__URL": f"sqlite://{tmp_path}/cli.db?mode=rwc",
            "LATCHKEY_ENCRYPTION__KEY": base64.b64encode(os.urandom(32)).decode(),
        }
    )

    def latchkey(*arguments):
        done = subprocess.run(
            [str(BINARY), *arguments], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    latchkey(
        "consumer", "add", "--key", "confluence", "--name", "Confluence",
        "--generate-shared-secret", "--two-legged", "--execute-as", "robot",
    )
    shown = latchkey("consumer", "two-legged", "confluence", "--impersonation", "true")
    assert "2-legged allowed, execute as robot, impersonation allowed" in shown, shown
    shown = latchkey("consumer", "two-legged", "confluence", "--allow", "false", "--execute-as", "")
    assert "2-legged refused, execute as no user, impersonation allowed" in shown, shown
