"""The web console's account and admin pages in a real browser (usage chart, API keys, disabling a user), the
page on a phone's screen, every request staying on the server's origin, and the README's screenshots.

CONSOLE_SCREENSHOTS=<directory> makes test_screenshots write console-chat.png, console-usage.png and
console-admin.png there (`make console-screenshots` writes them to docs/)."""

import os
import urllib.parse

import pytest
from selenium.webdriver.common.by import By

import console_page as page
import harness
from harness import testid as hook


@pytest.fixture(autouse=True)
def default_mock():
    harness.mock_reset()
    yield
    harness.mock_reset()


def today_bar_tokens(driver):
    """The tokens of the usage chart's last bar (today, UTC)."""
    harness.visible(driver, hook("usage-chart"))
    tokens = driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=usage-chart] .bar')].map(b => Number(b.dataset.tokens));"
    )
    assert len(tokens) == 30
    return tokens[-1]


def test_usage_chart_after_a_turn(driver):
    account = harness.sign_up()
    page.open_signed_in(driver, account, "#/account")
    assert today_bar_tokens(driver) == 0
    harness.clickable(driver, '#nav a[href="#/chats"]').click()
    page.send(driver, "count my tokens")
    page.wait_for_reply(driver, "complete")
    harness.clickable(driver, hook("nav-usage")).click()
    harness.wait(driver).until(lambda d: today_bar_tokens(d) > 0)
    status, usage = harness.http("GET", "/auth/me/usage", token=account.token)
    assert today_bar_tokens(driver) == usage["days"][-1]["total_tokens"]
    assert "unlimited" in driver.find_element(By.ID, "quotas").text
    harness.assert_same_origin(driver)


def test_api_key_created_shown_once_used_and_revoked(driver):
    account = harness.sign_up()
    page.open_signed_in(driver, account, "#/account")
    harness.clickable(driver, hook("api-key-name")).send_keys("laptop")
    driver.find_element(By.CSS_SELECTOR, hook("api-key-create")).click()
    harness.wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, hook("api-key-secret")).text.startswith("sk-"))
    key = driver.find_element(By.CSS_SELECTOR, hook("api-key-secret")).text
    item = harness.visible(driver, hook("api-key-item"))
    assert "laptop" in item.text and key not in item.text

    status, models = harness.http("GET", "/v1/models", token=key)
    assert status == 200 and models["object"] == "list"
    # Shown once: a reload lists the key without its secret.
    driver.refresh()
    harness.visible(driver, hook("api-key-item"))
    assert not driver.find_element(By.CSS_SELECTOR, hook("api-key-secret")).is_displayed()
    assert key not in driver.find_element(By.TAG_NAME, "body").text

    driver.find_element(By.CSS_SELECTOR, f'{hook("api-key-item")} button').click()
    harness.wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, hook("api-key-item")) == [])
    assert harness.http("GET", "/v1/models", token=key)[0] == 401


def test_admin_disables_a_user(driver):
    admin = harness.sign_up_admin()
    user = harness.sign_up()
    page.open_signed_in(driver, admin)
    harness.clickable(driver, hook("nav-admin")).click()
    harness.visible(driver, hook("user-row"))
    harness.clickable(driver, "#user-search").send_keys(user.email)
    row = f'{hook("user-row")}[data-user-id="{user.id}"]'
    harness.wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, hook("user-row"))) == 1)
    driver.find_element(By.CSS_SELECTOR, f"{row} .toggle-disabled").click()
    harness.wait(driver).until(lambda d: page.attribute(d, row, "data-disabled") == "true")
    status, answer = harness.http("POST", "/auth/login", {"email": user.email, "password": user.password})
    assert status == 403, (status, answer)
    assert harness.http("GET", "/auth/me", token=user.token)[0] == 401
    harness.visible(driver, '[data-testid="admin-usage-chart"]')
    harness.assert_same_origin(driver)
    # Each fetch of the page is one Resource Timing entry: the chart is one GET /admin/usage/daily and the
    # heaviest users one GET /admin/usage (not one a day), and the search asked the server for the email typed.
    fetched = [urllib.parse.urlsplit(each) for each in harness.resource_urls(driver)]
    assert [each.path for each in fetched].count("/admin/usage/daily") == 1, fetched
    assert [each.path for each in fetched].count("/admin/usage") == 1, fetched
    searched = [urllib.parse.parse_qs(each.query).get("email") for each in fetched if each.path == "/admin/users"]
    assert [user.email] in searched, fetched


def test_admin_sets_a_users_quota(driver):
    admin = harness.sign_up_admin()
    user = harness.sign_up()
    page.open_signed_in(driver, admin, "#/admin")
    harness.clickable(driver, "#user-search").send_keys(user.email)
    # The server's answer replaces the whole list: wait for it before editing a row.
    harness.wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, hook("user-row"))) == 1)
    row = f'{hook("user-row")}[data-user-id="{user.id}"]'
    daily = harness.clickable(driver, f'{row} input[name="daily_token_quota"]')
    daily.send_keys("50")
    driver.find_element(By.XPATH, f"//tr[@data-user-id='{user.id}']//button[text()='Save quotas']").click()
    harness.wait(driver).until(lambda d: d.find_element(By.ID, "notice").text == f"Saved {user.email}.")
    users = harness.http("GET", "/admin/users?limit=500", token=admin.token)[1]
    saved = next(each for each in users if each["id"] == user.id)
    assert saved["daily_token_quota"] == 50 and saved["monthly_token_quota"] is None


def test_phone_screen(phone_driver):
    driver = phone_driver
    account = harness.sign_up_admin()
    page.open_signed_in(driver, account)
    page.send(driver, "hello from a phone")
    page.wait_for_reply(driver, "complete")
    for fragment, shown in [("#/chats", "composer"), ("#/account", "usage-chart"), ("#/admin", "user-row")]:
        driver.get(harness.url("/app" + fragment))
        harness.visible(driver, hook(shown))
        assert driver.execute_script("return document.documentElement.scrollWidth <= innerWidth + 1"), fragment
    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('button, input, select, textarea, a[href]')]"
        ".filter(e => e.offsetParent !== null && e.getAttribute('tabindex') !== '-1')"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())"
        ".map(e => e.outerHTML.slice(0, 80));"
    )
    assert unlabelled == []


def save(driver, name):
    directory = os.environ.get("CONSOLE_SCREENSHOTS")
    if directory:
        driver.save_screenshot(os.path.join(directory, name))


def test_screenshots_of_chat_usage_and_admin():
    """Draws the three views the README shows (saved only with CONSOLE_SCREENSHOTS) and checks each rendered."""
    driver = harness.make_driver((1100, 820))
    try:
        admin = harness.sign_up_admin()
        page.open_signed_in(driver, admin)
        harness.mock_behavior(reply="Lisbon in May is mild: 20 to 24 °C by day. Pack a light jacket for the evenings "
                              "by the river, and book the tram 28 early in the morning.")
        page.send(driver, "What is the weather like in Lisbon in May?")
        page.wait_for_reply(driver, "complete")
        driver.refresh()
        page.wait_for_reply(driver, "complete")
        save(driver, "console-chat.png")
        harness.clickable(driver, hook("nav-usage")).click()
        assert today_bar_tokens(driver) > 0
        save(driver, "console-usage.png")
        harness.clickable(driver, hook("nav-admin")).click()
        harness.visible(driver, hook("user-row"))
        harness.visible(driver, '[data-testid="admin-usage-chart"]')
        save(driver, "console-admin.png")
        harness.assert_same_origin(driver)
    finally:
        driver.quit()
