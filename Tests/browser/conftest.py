"""pytest fixtures for the browser tests (Tests/browser/harness.py has the helpers).

`driver`: a fresh headless Chromium at 1280x900 for each test; `phone_driver`: one at 390x844 (a phone).
On a failure the browser's console log is printed with the test's report.
"""

import pytest

import harness


def _driver(request, size):
    driver = harness.make_driver(size)
    yield driver
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"--- browser console ({driver.current_url})")
        for entry in driver.get_log("browser"):
            print(entry["level"], entry["message"])
    driver.quit()


@pytest.fixture
def driver(request):
    yield from _driver(request, harness.DESKTOP)


@pytest.fixture
def phone_driver(request):
    yield from _driver(request, harness.PHONE)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.report_call = report
    return report
