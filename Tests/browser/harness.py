"""Helpers for the browser tests: the server under test, headless Chromium, the API, and origin checks.

Tests/scripts/browser-check starts the real chat-server and mock-groq and sets CHAT_SERVER, MOCK_GROQ,
ROOT_ADMIN_EMAIL, CHROMIUM and CHROMEDRIVER. Chromium resolves no host but 127.0.0.1 and localhost, so a
request to another origin fails at once instead of reaching the internet; the DevTools network log still
records it, and `assert_same_origin` fails on it.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

BASE_URL = os.environ.get("CHAT_SERVER", "http://127.0.0.1:8000")
MOCK_URL = os.environ.get("MOCK_GROQ", "http://127.0.0.1:9090")
ROOT_ADMIN_EMAIL = os.environ.get("ROOT_ADMIN_EMAIL", "root-admin@browser.test")
PASSWORD = "correct horse battery"
DESKTOP = (1280, 900)
PHONE = (390, 844)
# How long a wait for the page may take before the test fails (a debug build on a shared machine).
TIMEOUT = 20


def url(path):
    """The server's absolute URL for `path` ("/docs")."""
    return BASE_URL + path


# MARK: - The browser


def make_driver(size=DESKTOP):
    """Headless Debian Chromium at `size` (DESKTOP or PHONE), with its network and console logs kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in [
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespaces for Chromium's sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        f"--window-size={size[0]},{size[1]}",
    ]:
        options.add_argument(argument)
    if size == PHONE:
        options.add_experimental_option(
            "mobileEmulation", {"deviceMetrics": {"width": size[0], "height": size[1], "pixelRatio": 3.0}}
        )
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(TIMEOUT)
    # Every resource the page loads is listed, however many (the default buffer keeps 250).
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": "performance.setResourceTimingBufferSize(100000);"},
    )
    return driver


def wait(driver, timeout=TIMEOUT):
    """A WebDriverWait: `wait(driver).until(condition)`."""
    return WebDriverWait(driver, timeout)


def visible(driver, css, timeout=TIMEOUT):
    """Waits until an element matching `css` is visible; returns it."""
    return wait(driver, timeout).until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css)))


def clickable(driver, css, timeout=TIMEOUT):
    """Waits until an element matching `css` is visible and enabled; returns it."""
    return wait(driver, timeout).until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css)))


def testid(name):
    """The CSS selector of a `data-testid` hook: `visible(driver, testid("send"))`."""
    return f'[data-testid="{name}"]'


def console_errors(driver):
    """The browser console's SEVERE entries since the last call (messages)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# MARK: - Where the page's requests went


def resource_urls(driver):
    """The page's navigation and every resource it fetched, from the Resource Timing API."""
    return driver.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(entry => entry.name);"
    )


def network_urls(driver):
    """Every request the browser sent or tried since the last call (DevTools log: failed ones too)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def off_origin(urls, origin=BASE_URL):
    """The URLs in `urls` that are neither on `origin` nor inline (data:, blob:, about:)."""
    inline = ("data:", "blob:", "about:")
    return [each for each in urls if not each.startswith(inline) and not same_origin(each, origin)]


def same_origin(address, origin=BASE_URL):
    first, second = urllib.parse.urlsplit(address), urllib.parse.urlsplit(origin)
    return (first.scheme, first.netloc) == (second.scheme, second.netloc)


def assert_same_origin(driver):
    """Fails unless every request of the page so far (Resource Timing and the DevTools log) went to the server.

    Returns the same-origin URLs seen, so a test can also check that what it expected was loaded."""
    urls = resource_urls(driver) + network_urls(driver)
    outside = off_origin(urls)
    assert not outside, f"requests left the origin {BASE_URL}: {sorted(set(outside))}"
    return urls


# MARK: - The API (plain HTTP, no browser)


@dataclass
class Account:
    """A signed-up user: id, email, password and a JWT."""

    id: str
    email: str
    password: str
    token: str


def http(method, path, body=None, token=None, form=None, base=BASE_URL):
    """One HTTP call to the server (or `base`): (status, parsed JSON body or None)."""
    data, content_type = None, None
    if body is not None:
        data, content_type = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data, content_type = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    request = urllib.request.Request(base + path, data=data, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def unique_email(prefix="user"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}@browser.test"


def log_in(email, password=PASSWORD):
    """A JWT for an existing account."""
    status, login = http("POST", "/auth/login", {"email": email, "password": password})
    assert status == 200, (status, login)
    return login["access_token"]


def sign_up(email=None, password=PASSWORD):
    """Registers a new user (a unique email unless given) and logs in."""
    email = email or unique_email()
    status, user = http("POST", "/auth/register", {"email": email, "password": password})
    assert status == 201, (status, user)
    return Account(user["id"], email, password, log_in(email, password))


def root_admin():
    """The admin the server was started with (ADMIN_EMAILS): registered on first use, then logged in."""
    status, user = http("POST", "/auth/register", {"email": ROOT_ADMIN_EMAIL, "password": PASSWORD})
    assert status in (201, 409), (status, user)
    token = log_in(ROOT_ADMIN_EMAIL)
    status, me = http("GET", "/auth/me", token=token)
    assert status == 200 and me["role"] == "admin", (status, me)
    return Account(me["id"], ROOT_ADMIN_EMAIL, PASSWORD, token)


def make_admin(account):
    """Gives `account` the admin role (through the root admin and PATCH /admin/users/{id}/role)."""
    status, user = http("PATCH", f"/admin/users/{account.id}/role", {"role": "admin"}, token=root_admin().token)
    assert status == 200 and user["role"] == "admin", (status, user)
    return account


def sign_up_admin():
    """A new user with the admin role."""
    return make_admin(sign_up(unique_email("admin")))


def mock_behavior(**behavior):
    """Sets the mock upstream's behaviour (PUT /mock/behavior on mock-groq; see Sources/MockGroq)."""
    status, _ = http("PUT", "/mock/behavior", behavior, base=MOCK_URL)
    assert status in (200, 204), status


def mock_reset():
    """The mock upstream back to its default behaviour."""
    status, _ = http("POST", "/mock/reset", base=MOCK_URL)
    assert status in (200, 204), status
