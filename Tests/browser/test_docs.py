"""/docs (Swagger UI) and /redoc (ReDoc) in a browser that can reach no other host: they render, Swagger's
Authorize logs in through /auth/token and "Try it out" then calls an authenticated route, and no request of
either page leaves the server's origin."""

from selenium.webdriver.common.by import By

import harness


def expect_clean_console(driver):
    """No error in the browser console: a script or style the Content-Security-Policy refused shows here."""
    errors = harness.console_errors(driver)
    assert not errors, errors


def open_swagger(driver):
    driver.get(harness.url("/docs"))
    harness.wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)


def test_swagger_ui_renders_from_the_server(driver):
    open_swagger(driver)
    assert harness.visible(driver, '.opblock-summary-path[data-path="/auth/me"]')
    urls = harness.assert_same_origin(driver)
    for name in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js", "openapi.json"]:
        assert any(name in each for each in urls), (name, urls)
    expect_clean_console(driver)


def test_swagger_authorize_logs_in_through_auth_token(driver):
    account = harness.sign_up()
    open_swagger(driver)
    harness.clickable(driver, ".auth-wrapper .authorize").click()
    harness.visible(driver, "#oauth_username").send_keys(account.email)
    driver.find_element(By.CSS_SELECTOR, "#oauth_password").send_keys(account.password)
    driver.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .authorize").click()
    # Logged in: the dialog offers Logout for the OAuth2 scheme.
    harness.wait(driver).until(
        lambda d: any(b.text == "Logout" for b in d.find_elements(By.CSS_SELECTOR, ".auth-btn-wrapper button"))
    )
    driver.find_element(By.CSS_SELECTOR, ".btn-done").click()
    operation = driver.find_element(By.XPATH, '//*[contains(@class, "opblock-get")][.//*[@data-path="/auth/me"]]')
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    harness.clickable(driver, ".opblock.is-open .try-out__btn").click()
    harness.clickable(driver, ".opblock.is-open .execute").click()
    response = ".opblock.is-open .live-responses-table tbody .response"
    status = harness.visible(driver, f"{response} .response-col_status")
    assert status.text.strip() == "200", status.text
    body = driver.find_element(By.CSS_SELECTOR, f"{response} .response-col_description pre").text
    assert account.email in body, body
    urls = harness.assert_same_origin(driver)
    assert harness.url("/auth/token") in urls and harness.url("/auth/me") in urls, urls


def test_redoc_renders_from_the_server(driver):
    driver.get(harness.url("/redoc"))
    harness.wait(driver).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-section-id*="/paths/"]')) > 20
    )
    assert "/auth/me" in driver.find_element(By.CSS_SELECTOR, ".api-content").text
    urls = harness.assert_same_origin(driver)
    assert any("redoc.standalone.js" in each for each in urls), urls
    expect_clean_console(driver)
