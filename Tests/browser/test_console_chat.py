"""The web console's conversations in a real browser: signing up, a reply streaming in, reloading or losing the
connection mid-reply, cancel, regenerate, edit and branches, search, hostile reply text, and the chat list."""

import json
import time
import urllib.parse

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import console_page as page
import harness
from cutting_proxy import CuttingProxy
from harness import testid as hook


@pytest.fixture(autouse=True)
def default_mock():
    harness.mock_reset()
    yield
    harness.mock_reset()


def test_sign_up_then_errors_as_the_api_writes_them(driver):
    email = harness.unique_email("page")
    driver.get(harness.url("/app"))
    harness.visible(driver, hook("email")).send_keys(email)
    driver.find_element(By.CSS_SELECTOR, hook("password")).send_keys(harness.PASSWORD)
    driver.find_element(By.CSS_SELECTOR, hook("sign-up")).click()
    harness.visible(driver, hook("composer"))
    assert driver.find_element(By.ID, "who").text == email
    assert not driver.find_element(By.CSS_SELECTOR, hook("nav-admin")).is_displayed()

    # The same email again, from a fresh tab: the API's 409 detail, word for word.
    status, answer = harness.http("POST", "/auth/register", {"email": email, "password": harness.PASSWORD})
    assert status == 409
    driver.execute_script("sessionStorage.clear();")
    driver.get(harness.url("/app"))
    harness.visible(driver, hook("email")).send_keys(email)
    driver.find_element(By.CSS_SELECTOR, hook("password")).send_keys(harness.PASSWORD)
    driver.find_element(By.CSS_SELECTOR, hook("sign-up")).click()
    harness.wait(driver).until(lambda d: d.find_element(By.ID, "auth-error").text == answer["detail"])
    # And a wrong password at sign-in.
    driver.find_element(By.CSS_SELECTOR, hook("password")).send_keys("-wrong")
    driver.find_element(By.CSS_SELECTOR, hook("sign-in")).click()
    harness.wait(driver).until(lambda d: d.find_element(By.ID, "auth-error").text == "Invalid email or password")
    harness.assert_same_origin(driver)


def test_reply_streams_in(driver):
    reply = page.words(100)
    harness.mock_behavior(chunk_delay_ms=40, reply=reply)
    page.open_signed_in(driver, harness.sign_up())
    page.send(driver, "Tell me a story")
    seen = page.wait_for_partial_reply(driver, reply)["text"]
    assert reply.startswith(seen)
    assert driver.find_element(By.CSS_SELECTOR, hook("cancel")).is_enabled()
    final = page.wait_for_reply(driver, "complete", reply)
    assert [m["role"] for m in page.messages(driver)] == ["user", "assistant"]
    # The chat was created by the first message and is now in the list and the address.
    chat_id = page.current_chat_id(driver)
    harness.visible(driver, f'{hook("chat-item")}[data-chat-id="{chat_id}"]')
    assert final["id"] > 0
    harness.assert_same_origin(driver)


def test_reload_mid_reply_finishes_whole(driver):
    # Long enough (about 12 s) to still be streaming once the reloaded page has read the chat on a busy machine.
    reply = page.words(300)
    harness.mock_behavior(chunk_delay_ms=40, reply=reply)
    account = harness.sign_up()
    page.open_signed_in(driver, account)
    page.send(driver, "A long one, please")
    page.wait_for_partial_reply(driver, reply)
    chat_id = page.current_chat_id(driver)
    driver.refresh()
    # Back in the same chat, following the reply that is still being generated, to its last word.
    page.wait_for_partial_reply(driver, reply, at_least=1)
    page.wait_for_reply(driver, "complete", reply)
    status, saved = harness.http("GET", f"/chats/{chat_id}/messages", token=account.token)
    assert status == 200 and saved[-1]["content"] == reply


def test_lost_connection_mid_reply_reattaches_without_duplicate_or_gap(driver):
    reply = page.words(300)
    harness.mock_behavior(chunk_delay_ms=40, reply=reply)
    target = urllib.parse.urlsplit(harness.BASE_URL)
    proxy = CuttingProxy((target.hostname, target.port))
    try:
        page.open_signed_in(driver, harness.sign_up(), base=proxy.url)
        page.send(driver, "Keep going")
        page.wait_for_partial_reply(driver, reply)
        proxy.cut()
        page.wait_for_partial_reply(driver, reply, at_least=len(reply) // 2)
        proxy.cut()
        page.wait_for_reply(driver, "complete", reply)
        # The text came whole through reattaches (GET …/stream with Last-Event-ID) after each cut.
        reattaches = [each for each in harness.resource_urls(driver) if each.endswith("/stream")]
        assert len(reattaches) >= 2, reattaches
    finally:
        proxy.close()


def test_cancel_mid_reply(driver):
    reply = page.words(200)
    harness.mock_behavior(chunk_delay_ms=40, reply=reply)
    account = harness.sign_up()
    page.open_signed_in(driver, account)
    page.send(driver, "Do not finish")
    page.wait_for_partial_reply(driver, reply)
    harness.clickable(driver, hook("cancel")).click()
    cancelled = page.wait_for_reply(driver, "cancelled")
    assert reply.startswith(cancelled["text"]) and cancelled["text"] != reply
    assert driver.find_element(By.CSS_SELECTOR, '[data-status="cancelled"] .badge').text == "cancelled"
    assert harness.clickable(driver, hook("send"))
    status, saved = harness.http("GET", f"/chats/{page.current_chat_id(driver)}/messages", token=account.token)
    assert saved[-1]["status"] == "cancelled" and saved[-1]["content"] == cancelled["text"]


def test_failed_reply_is_shown_as_failed(driver):
    harness.mock_behavior(fault="server_error")
    page.open_signed_in(driver, harness.sign_up())
    page.send(driver, "This one fails")
    failed = page.wait_for_reply(driver, "failed")
    assert failed["role"] == "assistant"
    assert driver.find_element(By.CSS_SELECTOR, '[data-status="failed"] .badge').text == "failed"


def versions(driver, role):
    """The sibling switch ("n / m") of the last message with `role`."""
    return driver.find_elements(By.CSS_SELECTOR, f'[data-role="{role}"] .version')[-1].text


def test_regenerate_edit_and_switch_branches(driver):
    account = harness.sign_up()
    harness.mock_behavior(reply="first answer")
    page.open_signed_in(driver, account)
    page.send(driver, "question one")
    page.wait_for_reply(driver, "complete", "first answer")

    harness.mock_behavior(reply="second answer")
    driver.find_elements(By.CSS_SELECTOR, '[data-role="assistant"] .regenerate')[-1].click()
    page.wait_for_reply(driver, "complete", "second answer")
    assert versions(driver, "assistant") == "2 / 2"
    driver.find_elements(By.CSS_SELECTOR, '[data-role="assistant"] .previous-version')[-1].click()
    page.wait_for_reply(driver, "complete", "first answer")
    assert versions(driver, "assistant") == "1 / 2"

    harness.mock_behavior(reply="answer to the edit")
    driver.find_elements(By.CSS_SELECTOR, '[data-role="user"] .edit')[-1].click()
    editor = harness.visible(driver, ".editor textarea")
    editor.clear()
    editor.send_keys("question one, edited")
    driver.find_element(By.CSS_SELECTOR, '.editor button[type="submit"]').click()
    page.wait_for_reply(driver, "complete", "answer to the edit")
    shown = page.messages(driver)
    assert [m["text"] for m in shown] == ["question one, edited", "answer to the edit"]
    assert versions(driver, "user") == "2 / 2"
    # The page shows the API's active path.
    status, path = harness.http("GET", f"/chats/{page.current_chat_id(driver)}/messages", token=account.token)
    assert [m["id"] for m in path] == [m["id"] for m in shown]


def test_search_opens_the_chat_at_the_message(driver):
    account = harness.sign_up()
    word = f"zebra{int(time.time() * 1000) % 100000}"
    harness.mock_behavior(reply=f"filler {page.words(60, 'f')} the {word} answer {page.words(60, 'g')}")
    page.open_signed_in(driver, account)
    page.send(driver, "first chat")
    page.wait_for_reply(driver, "complete")
    harness.mock_behavior(reply="other chat's reply")
    harness.clickable(driver, hook("new-chat")).click()
    harness.wait(driver).until(lambda d: page.messages(d) == [])
    page.send(driver, "second chat")
    page.wait_for_reply(driver, "complete", "other chat's reply")

    harness.clickable(driver, hook("search")).send_keys(word)
    result = harness.visible(driver, hook("search-result"))
    assert result.find_element(By.TAG_NAME, "mark").text == word
    result.click()
    focused = harness.visible(driver, ".message.focused")
    assert word in focused.text and focused.get_attribute("data-role") == "assistant"
    assert f"/m/{focused.get_attribute('data-message-id')}" in driver.current_url
    assert driver.execute_script(
        "const box = arguments[0].getBoundingClientRect(); return box.bottom > 0 && box.top < innerHeight;", focused)


XSS = '<img src=x onerror="window.__xss=1;alert(1)"> <script>window.__xss=2</script> **bold** xssmarker'


def test_hostile_reply_executes_nothing(driver):
    harness.mock_behavior(reply=XSS)
    account = harness.sign_up()
    page.open_signed_in(driver, account)
    page.send(driver, '<img src=y onerror="window.__xss=3"> xssmarker')
    page.wait_for_reply(driver, "complete")
    # Its search snippet too: matches marked, the rest text.
    harness.clickable(driver, hook("search")).send_keys("xssmarker")
    harness.visible(driver, hook("search-result"))
    assert driver.execute_script("return window.__xss") is None
    assert driver.find_elements(By.CSS_SELECTOR, "#messages img, #messages script, #search-results img") == []
    assert [m["text"] for m in page.messages(driver)] == ['<img src=y onerror="window.__xss=3"> xssmarker', XSS]
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text
    harness.assert_same_origin(driver)


def test_chat_list_rename_pin_archive_delete(driver):
    account = harness.sign_up()
    first = harness.http("POST", "/chats", {"title": "Alpha"}, token=account.token)[1]
    second = harness.http("POST", "/chats", {"title": "Beta"}, token=account.token)[1]
    page.open_signed_in(driver, account, f"#/chats/{first['id']}")

    def titles():
        return driver.execute_script(
            "return [...document.querySelectorAll('[data-testid=chat-item]')]"
            ".map(e => (e.querySelector('.pin') ? 'pinned: ' : '') + e.querySelector('.title').textContent);"
        )

    harness.wait(driver).until(lambda d: titles() == ["Beta", "Alpha"])
    title = harness.clickable(driver, "#chat-title")
    title.clear()
    title.send_keys("Alpha renamed")
    driver.find_element(By.CSS_SELECTOR, "#title-form button").click()
    harness.wait(driver).until(lambda d: titles() == ["Alpha renamed", "Beta"])
    driver.get(harness.url(f"/app#/chats/{second['id']}"))
    harness.clickable(driver, "#pin-chat").click()
    harness.wait(driver).until(lambda d: titles() == ["pinned: Beta", "Alpha renamed"])
    harness.clickable(driver, "#archive-chat").click()
    harness.wait(driver).until(lambda d: titles() == ["Alpha renamed"])
    driver.find_element(By.ID, "show-archived").click()
    harness.wait(driver).until(lambda d: titles() == ["pinned: Beta"])
    harness.clickable(driver, "#delete-chat").click()
    harness.clickable(driver, "#delete-chat").click()
    harness.wait(driver).until(lambda d: titles() == [])
    assert harness.http("GET", f"/chats/{second['id']}", token=account.token)[0] == 404


def test_import_chatgpt_conversations(driver, tmp_path):
    account = harness.sign_up()
    conversations = [{
        "title": "From ChatGPT", "current_node": "b",
        "mapping": {
            "a": {"id": "a", "parent": None, "children": ["b"], "message": {
                "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["imported question"]},
                "create_time": 1700000000}},
            "b": {"id": "b", "parent": "a", "children": [], "message": {
                "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["imported answer"]},
                "create_time": 1700000001}},
        },
    }]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(conversations))
    page.open_signed_in(driver, account)
    driver.find_element(By.ID, "import-file").send_keys(str(path))
    item = harness.visible(driver, hook("chat-item"))
    assert item.text == "From ChatGPT"
    item.click()
    harness.wait(driver).until(lambda d: [m["text"] for m in page.messages(d)] == ["imported question", "imported answer"])


def test_model_system_prompt_and_export(driver):
    account = harness.sign_up()
    chat = harness.http("POST", "/chats", {"title": "Settings"}, token=account.token)[1]
    page.open_signed_in(driver, account, f"#/chats/{chat['id']}")
    driver.find_element(By.CSS_SELECTOR, "#settings summary").click()
    status, models = harness.http("GET", "/models", token=account.token)
    options = driver.execute_script("return [...document.querySelectorAll('#model option')].map(o => o.value);")
    assert options == [""] + [model["id"] for model in models["models"]]
    prompt = harness.clickable(driver, "#system-prompt")
    prompt.send_keys("Answer in one sentence.")
    driver.find_element(By.ID, "save-settings").click()
    harness.wait(driver).until(lambda d: d.find_element(By.ID, "notice").text.startswith("Saved"))
    saved = harness.http("GET", f"/chats/{chat['id']}", token=account.token)[1]
    assert saved["system_prompt"] == "Answer in one sentence." and saved["model"] is None

    # Sent with the keyboard alone: Enter in the composer.
    harness.mock_behavior(reply="exported reply")
    harness.clickable(driver, hook("composer")).send_keys("export me", Keys.ENTER)
    page.wait_for_reply(driver, "complete", "exported reply")
    for button, query in [("export-json", "format=json"), ("export-md", "format=markdown")]:
        driver.find_element(By.ID, button).click()
        harness.wait(driver).until(
            lambda d: any(url.endswith(f"/export?{query}") for url in harness.resource_urls(d)))
    notice = driver.find_element(By.ID, "notice")
    assert not (notice.is_displayed() and "error" in notice.get_attribute("class")), notice.text


def test_chat_list_pages_beyond_a_hundred(driver):
    account = harness.sign_up()
    for number in range(105):
        assert harness.http("POST", "/chats", {"title": f"chat {number}"}, token=account.token)[0] == 201
    page.open_signed_in(driver, account)

    def count():
        return driver.execute_script("return document.querySelectorAll('[data-testid=chat-item]').length;")

    harness.wait(driver).until(lambda d: count() == 100)
    harness.clickable(driver, "#more-chats").click()
    harness.wait(driver).until(lambda d: count() == 105)
    assert not driver.find_element(By.ID, "more-chats").is_displayed()
