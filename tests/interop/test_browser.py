"""The web pages in a real headless browser: chromium driven by its chromedriver through
Selenium, against a real `latchkey serve`, with requests-oauthlib as the OAuth 1.0a
consumer and the OAuth 2.0 client.

The browser stands behind an imagined authenticating proxy: it sends X-Forwarded-User
(and, for the administrator, X-Forwarded-Groups) on every request. The consumer's
callback is a small local HTTP server, so the browser really lands there.

A screenshot of each page goes to .build/screenshots (LATCHKEY_TEST_ARTIFACTS moves
it). These tests run on SQLite only: the pages are the same on Postgres, where the
Rust e2e tests (tests/e2e/web.rs) cover them on both backends. Without chromium and
chromedriver they are skipped, except under CI=true, where they fail: `make test`
installs both.
"""

import os
import pathlib
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import grpc
import pytest
from oauthlib.oauth1 import Client
from requests_oauthlib import OAuth1Session, OAuth2Session
from requests_oauthlib.oauth1_session import TokenRequestDenied
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ACCESS_TOKEN_PATH, ADMIN, REQUEST_TOKEN_PATH, ROOT, bearer, on_ci
from latchkey.v1 import admin_pb2, authority_pb2

ARTIFACTS = pathlib.Path(os.environ.get("LATCHKEY_TEST_ARTIFACTS", ROOT / ".build/screenshots"))
RESOURCE = "https://jira.example.com/rest/api/2/myself"
SETTINGS = {
    "WEB__USER_HEADER": "X-Forwarded-User",
    "WEB__GROUPS_HEADER": "X-Forwarded-Groups",
    "WEB__ADMIN_GROUP": "latchkey-admins",
}
JIRA_CODE_SENTENCE = "Your verification code is '{}'. You will need to enter this exact text when prompted."


@pytest.fixture
def backend():
    """SQLite only (see the module's docstring)."""
    yield None


def browser_programs():
    browser = next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
        None,
    )
    return browser, shutil.which("chromedriver")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser, chromedriver = browser_programs()
    if not (browser and chromedriver):
        message = "chromium and chromedriver are needed for the browser tests (`make test` installs them)"
        if on_ci():
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    # Naming the driver keeps Selenium from looking for one to download.
    chrome = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    chrome.set_page_load_timeout(20)
    chrome.execute_cdp_cmd("Network.enable", {})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield chrome
    chrome.quit()


def sign_in(driver, user, groups=""):
    """What the authenticating proxy would add to each of the browser's requests."""
    headers = {"X-Forwarded-User": user}
    if groups:
        headers["X-Forwarded-Groups"] = groups
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})


def wait_for(driver, condition, what):
    """Waits until `condition` holds. A WebDriver call made while the browser swaps one
    document for the next can fail with a transient error ("node does not belong to the
    document", a script context that is gone): those count as "not yet"."""
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        condition, message=f"waiting for {what}"
    )


def leave_page(driver, action, what):
    """Runs `action`, which leaves the page, and waits until the next page has loaded.

    A click returns before the navigation it starts has finished. The old page is marked
    with a window property the next document does not have, so the wait ends only once
    a new document is shown and fully loaded."""
    driver.execute_script("window.latchkeyOldPage = true")
    action()
    wait_for(
        driver,
        lambda d: d.execute_script(
            "return window.latchkeyOldPage === undefined && document.readyState === 'complete'"
        ),
        what,
    )


def click_and_wait(driver, element_id):
    """Clicks a button that leaves the page, and waits until the next page is shown."""
    button = driver.find_element("id", element_id)
    leave_page(driver, button.click, f"the page after #{element_id}")


def screenshot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


class Callback(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        body = b"<!doctype html><title>App</title><p>Back at the application.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def callback():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oauth/callback"
    server.shutdown()


@pytest.fixture
def web(start_latchkey):
    return start_latchkey(SETTINGS)


def consent_in_browser(driver, web, consumer_key, secret, callback_uri, button):
    """Starts the dance with requests-oauthlib and presses a button on the consent page."""
    session = OAuth1Session(consumer_key, client_secret=secret, callback_uri=callback_uri)
    fetched = session.fetch_request_token(web.url(REQUEST_TOKEN_PATH))
    driver.get(session.authorization_url(web.url("/plugins/servlet/oauth/authorize")))
    assert driver.title.startswith("Allow access?"), driver.page_source
    screenshot(driver, f"consent-{consumer_key}")
    click_and_wait(driver, button)
    return session, fetched


def dance(driver, web, consumer_key, secret, callback):
    session, fetched = consent_in_browser(driver, web, consumer_key, secret, callback, "allow")
    assert driver.current_url.startswith(callback + "?"), driver.current_url
    returned = session.parse_authorization_response(driver.current_url)
    assert returned["oauth_token"] == fetched["oauth_token"]
    access = session.fetch_access_token(web.url(ACCESS_TOKEN_PATH))
    assert access["oauth_token"] != fetched["oauth_token"]
    return access


def validate(web, consumer_key, secret, access):
    client = Client(
        consumer_key,
        client_secret=secret,
        resource_owner_key=access["oauth_token"],
        resource_owner_secret=access["oauth_token_secret"],
    )
    url, headers, _ = client.sign(RESOURCE, http_method="GET")
    return web.validate("GET", url, headers["Authorization"])


def test_allow_in_the_browser_completes_the_dance_and_a_script_name_is_text(driver, web, callback):
    name = "<script>document.title='pwned'</script> Evil & Co"
    secret = web.register("browser-allow", generate_shared_secret=True, description="Reads your issues.")
    secret = secret.generated_shared_secret
    # Rename it to the name the page must show as text.
    web.admin.UpdateConsumer(
        admin_pb2.UpdateConsumerRequest(key="browser-allow", name=name), metadata=bearer(ADMIN)
    )
    sign_in(driver, "alice")
    session = OAuth1Session("browser-allow", client_secret=secret, callback_uri=callback)
    fetched = session.fetch_request_token(web.url(REQUEST_TOKEN_PATH))
    driver.get(session.authorization_url(web.url("/plugins/servlet/oauth/authorize")))
    assert driver.find_element("css selector", "h1 .consumer-name").text == name
    assert driver.title.startswith("Allow access?"), "the script did not run"
    assert "127.0.0.1" in driver.find_element("css selector", ".destination").text
    screenshot(driver, "consent")
    click_and_wait(driver, "allow")
    assert driver.current_url.startswith(callback + "?")
    screenshot(driver, "callback")
    session.parse_authorization_response(driver.current_url)
    access = session.fetch_access_token(web.url(ACCESS_TOKEN_PATH))
    assert access["oauth_token"] != fetched["oauth_token"]
    assert validate(web, "browser-allow", secret, access).user_id == "alice"


def test_deny_in_the_browser_tells_the_consumer_the_user_refused(driver, web, callback):
    secret = web.register("browser-deny", generate_shared_secret=True).generated_shared_secret
    sign_in(driver, "alice")
    session, _ = consent_in_browser(driver, web, "browser-deny", secret, callback, "deny")
    assert parse_qs(urlparse(driver.current_url).query)["oauth_problem"] == ["user_refused"]
    with pytest.raises(TokenRequestDenied) as denied:
        session.fetch_access_token(web.url(ACCESS_TOKEN_PATH), verifier="none-was-given")
    assert denied.value.response.status_code == 401


def test_oob_shows_the_code_in_jiras_words_and_the_code_exchanges(driver, web):
    secret = web.register("browser-oob", generate_shared_secret=True).generated_shared_secret
    sign_in(driver, "alice")
    session, _ = consent_in_browser(driver, web, "browser-oob", secret, "oob", "allow")
    code = driver.find_element("id", "verification-code").text
    sentence = driver.find_element("css selector", ".verification").text
    assert sentence == JIRA_CODE_SENTENCE.format(code)
    screenshot(driver, "verification-code")
    access = session.fetch_access_token(web.url(ACCESS_TOKEN_PATH), verifier=code)
    assert validate(web, "browser-oob", secret, access).user_id == "alice"


def test_a_user_revokes_a_grant_and_validate_access_then_fails(driver, web, callback):
    secret = web.register("browser-revoke", generate_shared_secret=True).generated_shared_secret
    sign_in(driver, "bob")
    access = dance(driver, web, "browser-revoke", secret, callback)
    assert validate(web, "browser-revoke", secret, access).user_id == "bob"
    driver.get(web.pod_url("/web/authorizations"))
    assert "browser-revoke app" in driver.page_source
    screenshot(driver, "my-authorizations")
    revoke = driver.find_element("css selector", "button.revoke")
    leave_page(driver, revoke.click, "the page after Revoke")
    wait_for(driver, lambda d: "No application can act for you" in d.page_source, "no grants left")
    assert "No application can act for you" in driver.page_source
    with pytest.raises(grpc.RpcError) as refused:
        validate(web, "browser-revoke", secret, access)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value


def test_an_admin_adds_a_consumer_on_the_page_and_it_completes_a_dance(driver, web, callback):
    sign_in(driver, "root", groups="staff,latchkey-admins")
    driver.get(web.pod_url("/web/admin"))
    click_and_wait(driver, "add-consumer")
    driver.find_element("id", "key").send_keys("made-in-browser")
    driver.find_element("id", "name").send_keys("Made in the browser")
    driver.find_element("id", "description").send_keys("Added through OAuth administration.")
    driver.find_element("id", "generate-secret").click()
    screenshot(driver, "admin-new")
    click_and_wait(driver, "register")
    secret = driver.find_element("id", "shared-secret").text
    assert secret
    screenshot(driver, "admin-created")

    access = dance(driver, web, "made-in-browser", secret, callback)
    assert validate(web, "made-in-browser", secret, access).user_id == "root"
    driver.get(web.pod_url("/web/admin"))
    screenshot(driver, "admin-list")
    driver.get(driver.find_element("link text", "Made in the browser").get_attribute("href"))
    assert "<td>root</td>" in driver.page_source
    assert secret not in driver.page_source
    screenshot(driver, "admin-consumer")


def test_oauth2_allow_in_the_browser_gives_requests_oauthlib_a_code_it_redeems(
    driver, web, callback, monkeypatch
):
    # The test server and the callback listen on plain http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    request = admin_pb2.RegisterOAuth2ClientRequest(
        client_id="browser-oauth2",
        name="Browser OAuth 2.0 app",
        confidential=True,
        redirect_uris=[callback],
        scopes=["read", "write"],
    )
    secret = web.admin.RegisterOAuth2Client(request, metadata=bearer(ADMIN)).client_secret
    sign_in(driver, "carol")
    session = OAuth2Session("browser-oauth2", redirect_uri=callback, scope=["read"], pkce="S256")
    url, state = session.authorization_url(web.url("/oauth2/authorize"))
    driver.get(url)
    assert driver.title.startswith("Allow access?"), driver.page_source
    assert driver.find_element("css selector", "h1 .consumer-name").text == "Browser OAuth 2.0 app"
    scopes = [item.text for item in driver.find_elements("css selector", ".scopes li")]
    assert scopes == ["read"]
    screenshot(driver, "consent-oauth2")
    click_and_wait(driver, "allow")
    assert driver.current_url.startswith(callback + "?"), driver.current_url
    assert f"state={state}" in driver.current_url
    token = session.fetch_token(
        web.url("/oauth2/token"), authorization_response=driver.current_url, client_secret=secret
    )
    assert token["scope"] == ["read"]
    principal = web.authority.ValidateAccess(
        authority_pb2.ValidateAccessRequest(bearer_token=token["access_token"])
    ).principal
    assert (principal.user_id, principal.consumer_key) == ("carol", "browser-oauth2")

    # Deny sends the browser back with access_denied, and no code.
    url, state = session.authorization_url(web.url("/oauth2/authorize"))
    driver.get(url)
    click_and_wait(driver, "deny")
    returned = dict(parse_qs(urlparse(driver.current_url).query))
    assert returned["error"] == ["access_denied"] and returned["state"] == [state]
    assert "code" not in returned
