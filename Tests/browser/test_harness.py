"""The harness itself: the server answers, a signed-up user and an admin exist, and the origin check catches a
request to another host (so a passing "no request left the origin" means something)."""

import pytest

import harness


def test_sign_up_and_admin():
    account = harness.sign_up()
    status, me = harness.http("GET", "/auth/me", token=account.token)
    assert status == 200 and me["email"] == account.email and me["role"] == "user", (status, me)
    admin = harness.sign_up_admin()
    status, users = harness.http("GET", "/admin/users?limit=1", token=admin.token)
    assert status == 200 and isinstance(users, list), (status, users)


def test_origin_check_catches_an_outside_request(driver):
    driver.get(harness.url("/health"))
    harness.wait(driver).until(lambda d: "healthy" in d.page_source)
    assert harness.assert_same_origin(driver), "the navigation itself is listed"
    # An image from another host: the host does not resolve in the harness's Chromium, yet the attempt is seen.
    driver.execute_script(
        "const image = document.createElement('img'); image.id = 'outside';"
        "image.onerror = () => image.dataset.done = '1'; image.onload = image.onerror;"
        "image.src = 'https://cdn.example.com/pixel.png'; document.body.appendChild(image);"
    )
    harness.wait(driver).until(
        lambda d: d.execute_script("return document.getElementById('outside').dataset.done === '1'")
    )
    with pytest.raises(AssertionError, match="cdn.example.com"):
        harness.assert_same_origin(driver)


def test_phone_window(phone_driver):
    # A phone's screen; a page with `<meta name="viewport" content="width=device-width">` is laid out at its width.
    phone_driver.get(harness.url("/health"))
    assert phone_driver.execute_script("return [screen.width, screen.height]") == list(harness.PHONE)
