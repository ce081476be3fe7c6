"""The web console (/app) as the browser tests drive it: signing in, the messages shown, waiting for replies.

Only the console's `data-testid` hooks (issue 36) and element ids in app.html are used.
"""

import harness
from harness import testid

# Where the console keeps the session's token (Sources/ChatConsole/Console/api.js).
TOKEN_KEY = "chat-console-token"


def open_signed_in(driver, account, fragment="#/chats", base=None):
    """Opens the console at `fragment` with `account`'s token in the tab's sessionStorage, as signing in leaves it."""
    base = base or harness.BASE_URL
    driver.get(base + "/app" + fragment)
    harness.visible(driver, testid("email"))
    driver.execute_script("sessionStorage.setItem(arguments[0], arguments[1]);", TOKEN_KEY, account.token)
    driver.refresh()
    harness.visible(driver, testid("nav-usage"))


def messages(driver):
    """The conversation's messages as shown: dicts of role, status, id and text (read in one script)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=message]')].map(m => ({role: m.dataset.role,"
        " status: m.dataset.status, id: Number(m.dataset.messageId), text: m.querySelector('.text').textContent}));"
    )


def last_reply(driver):
    replies = [message for message in messages(driver) if message["role"] == "assistant"]
    return replies[-1] if replies else None


def wait_for_reply(driver, status, text=None, timeout=harness.TIMEOUT):
    """Waits until the last reply has `status` (and `text` when given); returns it."""

    def ready(_):
        reply = last_reply(driver)
        if reply and reply["status"] == status and (text is None or reply["text"] == text):
            return reply
        return False

    return harness.wait(driver, timeout).until(ready)


def wait_for_partial_reply(driver, full_text, at_least=10):
    """Waits until the reply is streaming and shows at least `at_least` characters of `full_text`, not all."""

    def partial(_):
        reply = last_reply(driver)
        if reply and reply["status"] == "streaming" and at_least <= len(reply["text"]) < len(full_text):
            return reply
        return False

    return harness.wait(driver).until(partial)


def send(driver, text):
    """Types `text` in the composer and sends it."""
    composer = harness.clickable(driver, testid("composer"))
    composer.send_keys(text)
    harness.clickable(driver, testid("send")).click()


def words(count, prefix="w"):
    """A reply long enough to stream for a while: `count` numbered words."""
    return " ".join(f"{prefix}{index}" for index in range(count))


def current_chat_id(driver):
    """The open chat's id, from the address's fragment (#/chats/<id>)."""
    harness.wait(driver).until(lambda d: d.current_url.split("#/chats/")[-1][:36].count("-") == 4)
    return driver.current_url.split("#/chats/")[-1][:36]


def attribute(driver, css, name):
    """An attribute of the first element matching `css` as it is now (None when there is none): read in one
    script, so a list redrawn meanwhile cannot leave a stale element behind."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;", css, name
    )
