"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driving the live page."""

import json
import shutil
import tempfile
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    UnexpectedAlertPresentException,
)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from support.client import unique
from support.servers import ADMIN_PASSWORDS

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT = 30

# No network beyond localhost here: without these, Chromium keeps trying
# Google's services and its connections are refused.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,860",
)


class Chromium:
    """One browser with a fresh profile; each ``LivePage`` is a tab in it."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="gds-chromium-")
        options = Options()
        # Both paths given, so Selenium Manager never tries to download anything.
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        # A dialog stays open until a test answers it: none is dismissed behind its back.
        options.unhandled_prompt_behavior = "ignore"
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self._first_tab = self.driver.current_window_handle
        self._first_tab_taken = False
        self._logged_in = None

    def open(self, url):
        """A tab showing ``url``, its socket connected; logged in first as the server's admin, if it has one."""
        if self._first_tab_taken:
            self.driver.switch_to.new_window("tab")
        self._first_tab_taken = True
        page = LivePage(self.driver, self.driver.current_window_handle)
        self._log_in(url)
        self.driver.get(url)
        page.wait_until_connected()
        return page

    def _log_in(self, url):
        """Log in on the example's login page, as a person would (the page's mutations need it).

        Every tab shares the login; one at another server of the same host replaces it.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        password = ADMIN_PASSWORDS.get(origin)
        if password is None or self._logged_in == (origin, password):
            return
        self.driver.get(f"{origin}/login/?next=/")
        self.driver.find_element(By.NAME, "username").send_keys("admin")
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.driver.find_element(By.ID, "log-in").click()
        WebDriverWait(self.driver, TIMEOUT).until(lambda driver: urlsplit(driver.current_url).path == "/")
        name = WebDriverWait(self.driver, TIMEOUT).until(
            lambda driver: driver.find_element(By.ID, "username")
        )
        assert name.text == "admin", name.text
        self._logged_in = (origin, password)

    def close_tabs(self):
        """Close every tab but the first and blank that one, closing their sockets."""
        first, *others = self.driver.window_handles
        for handle in others:
            self.driver.switch_to.window(handle)
            self._dismiss_dialog()
            self.driver.close()
        self.driver.switch_to.window(first)
        self._dismiss_dialog()
        self.driver.get("about:blank")
        self._first_tab_taken = False

    def _dismiss_dialog(self):
        """A dialog a failed test left open would block the tab."""
        try:
            self.driver.switch_to.alert.dismiss()
        except NoAlertPresentException:
            pass

    def quit(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


class LivePage:
    """The example's live page in one tab, used the way a person would."""

    def __init__(self, driver, handle):
        self.driver = driver
        self.handle = handle

    def _focus(self):
        if self.driver.current_window_handle != self.handle:
            self.driver.switch_to.window(self.handle)

    def find(self, selector):
        self._focus()
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(self, selector):
        self._focus()
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, condition, message, timeout=TIMEOUT):
        """Wait until ``condition()`` is truthy; return its value."""
        self._focus()
        return WebDriverWait(self.driver, timeout).until(lambda _: condition(), message)

    def click(self, selector, clicks=1):
        """Click the element ``selector`` finds (``clicks`` times in a row), finding it
        again if the page redrew it meanwhile."""
        self.wait(lambda: self._click_once(selector, clicks), f"could not click {selector}")

    def _click_once(self, selector, clicks):
        try:
            self._press(self.find(selector), clicks)
        except StaleElementReferenceException:
            return False
        return True

    def _press(self, button, clicks):
        if clicks == 1:
            button.click()
        else:
            # Clicks faster than any reply, as an impatient double click is.
            self.driver.execute_script(
                "for (let i = 0; i < arguments[1]; i++) arguments[0].click();", button, clicks
            )

    def text(self, selector):
        return self.find(selector).text

    # ---- connection ----

    @property
    def channel_id(self):
        value = self.text("#channel-id")
        return None if value.startswith("none") else value

    @property
    def protocol(self):
        """The protocol chosen on the page: "2018" or "standard" (graphql-transport-ws)."""
        return self.read(
            "const choice = document.getElementById('protocol'); return choice ? choice.value : '2018';"
        )

    @property
    def status(self):
        return self.text("#status")

    def wait_until_connected(self, other_than=None, timeout=TIMEOUT):
        """The channel_id shown once the socket is connected (and differs from ``other_than``).

        Over graphql-transport-ws, which has no channel_id: True once it is connected.
        """
        return self.wait(
            lambda: (
                self.status == "connected"
                and (
                    self.protocol == "standard"
                    or (self.channel_id not in (None, other_than) and self.channel_id)
                )
            ),
            f"the page did not connect; status {self.status!r}",
            timeout,
        )

    def connect(self, path=None, host=None, protocol=None):
        """Change the socket's protocol, path and/or host as a person would, and press Connect."""
        if protocol is not None:
            Select(self.find("#protocol")).select_by_value(protocol)
        for selector, value in (("#ws-path", path), ("#ws-host", host)):
            if value is not None:
                box = self.find(selector)
                box.clear()
                box.send_keys(value)
        self.click("#connect")

    # ---- subscriptions ----

    def subscribe(self, stream, action, id=None, fields=(), filter=None):
        """Fill in the subscribe form and submit it (``filter``: ``(argument, value)``)."""
        # The button is off while the previous request is on its way.
        self.wait_until_sent()
        Select(self.find("#stream")).select_by_value(stream)
        Select(self.find("#action")).select_by_value(action)
        box = self.find("#object-id")
        box.clear()
        if id is not None:
            box.send_keys(str(id))
        Select(self.find("#filter-name")).select_by_value(filter[0] if filter else "")
        value = self.find("#filter-value")
        if value.is_enabled():
            value.clear()
            if filter:
                value.send_keys(filter[1])
        for choice in self.find_all("#fields input"):
            if choice.is_selected() != (choice.get_attribute("value") in fields):
                choice.click()
        self.find("#subscribe-button").click()

    def wait_until_sent(self):
        """Wait until the last subscribe request has its answer (or has failed)."""
        self.wait(lambda: self.find("#subscribe-button").is_enabled(), "the subscribe request never finished")

    def read(self, script):
        """Run ``script`` in the page and return its value: one call, so nothing goes stale
        while the page redraws."""
        self._focus()
        return self.driver.execute_script(script)

    def subscriptions(self):
        """Each listed subscription as (description, state)."""
        pairs = self.read(
            "return [...document.querySelectorAll('#subscriptions li.subscription')].map("
            "(li) => [li.querySelector('.description').textContent, li.dataset.state]);"
        )
        return [tuple(pair) for pair in pairs]

    def wait_until_live(self, description):
        self.wait(
            lambda: (description, "live") in self.subscriptions(),
            f"{description!r} never became live: {self.subscriptions()}",
        )

    def unsubscribe(self, description):
        descriptions = [text for text, _ in self.subscriptions()]
        assert description in descriptions, f"no subscription {description!r} in {descriptions}"
        self.click(f"#subscriptions li:nth-child({descriptions.index(description) + 1}) .unsubscribe")

    # ---- the frame log ----

    def frames(self, kind):
        """The socket frames of ``kind`` in the log, oldest first, decoded."""
        frames = self.read(
            f"return [...document.querySelectorAll('#frames li[data-kind=\"{kind}\"][data-frame]')]"
            ".map((li) => li.dataset.frame);"
        )
        return [json.loads(frame) for frame in reversed(frames)]

    def log_summaries(self):
        """Every log line's badge and summary, oldest first."""
        pairs = self.read(
            "return [...document.querySelectorAll('#frames li')].map("
            "(li) => [li.dataset.kind, li.querySelector('.summary').textContent]);"
        )
        return [tuple(pair) for pair in reversed(pairs)]

    def wait_for_frames(self, kind, count):
        """The first ``count`` frames of ``kind``, once that many have arrived."""

        def arrived():
            frames = self.frames(kind)
            return len(frames) >= count and frames[:count]

        return self.wait(arrived, f"fewer than {count} {kind} frames arrived: {self.log_summaries()}")

    # ---- data ----

    def _editor(self, kind):
        return self.find(f"#{kind}s-editor")

    def rows(self, kind):
        """The users or groups table: {id: [cell texts]}."""
        rows = self.read(
            f"return [...document.querySelectorAll('#{kind}s-editor tbody tr')].map("
            "(tr) => [tr.dataset.id, [...tr.cells].slice(0, -1).map((td) => td.textContent)]);"
        )
        return {int(pk): cells for pk, cells in rows}

    def save(self, kind, clicks=1, **values):
        """Fill in the user or group form, press its button ``clicks`` times in a row,
        and return the message the form shows."""
        form = self._editor(kind).find_element(By.CSS_SELECTOR, "form")
        for name, value in values.items():
            box = form.find_element(By.NAME, name)
            box.clear()
            box.send_keys(value)
        self._press(form.find_element(By.CSS_SELECTOR, ".save"), clicks)
        message = form.find_element(By.CSS_SELECTOR, ".message")
        self.wait(
            lambda: message.get_attribute("data-state") in ("ok", "error"),
            f"saving the {kind} gave no answer",
        )
        return message.text

    def create(self, kind, clicks=1, **values):
        """Create a user or group with the form; return its id, read from the table."""
        before = set(self.rows(kind))
        assert self.save(kind, clicks, **values) == "done"
        created = self.wait(lambda: set(self.rows(kind)) - before, f"no new {kind} row appeared")
        (pk,) = created
        return pk

    def _wait_for_row(self, kind, pk):
        self.wait(lambda: pk in self.rows(kind), f"{kind} {pk} is not listed")

    def start_editing(self, kind, pk):
        """Press a row's Edit button: the form now holds that object."""
        self._wait_for_row(kind, pk)
        self.click(f'#{kind}s-editor tr[data-id="{pk}"] .edit')

    def edit(self, kind, pk, **values):
        self.start_editing(kind, pk)
        assert self.save(kind, **values) == "done"

    def delete(self, kind, pk, clicks=1, accept=True):
        """Press a row's Delete button ``clicks`` times in a row and answer the page's
        confirmation: accept every one asked until the row is gone, or cancel the first.
        Return the questions asked."""
        self._wait_for_row(kind, pk)
        self.click(f'#{kind}s-editor tr[data-id="{pk}"] .delete', clicks)
        if not accept:
            return [self.answer_dialog(accept=False)]
        return self.accept_dialogs_until(lambda: pk not in self.rows(kind), f"{kind} {pk} is still listed")

    def answer_dialog(self, accept):
        """Wait for the page's dialog, accept or dismiss it, and return its text."""
        dialog = self.wait(self._dialog, "no dialog opened")
        text = dialog.text
        dialog.accept() if accept else dialog.dismiss()
        return text

    def _dialog(self):
        try:
            return self.driver.switch_to.alert
        except NoAlertPresentException:
            return None

    def accept_dialogs_until(self, condition, message):
        """Accept every dialog the page opens until ``condition()`` holds; return their texts."""
        asked = []

        def done():
            dialog = self._dialog()
            if dialog:
                asked.append(dialog.text)
                dialog.accept()
                return False
            try:
                return condition()
            except UnexpectedAlertPresentException:
                return False  # one opened just now: the next round answers it

        self.wait(done, message)
        return asked

    def screenshot(self, path, size=(1400, 1300)):
        """A PNG of the page at ``size``, tall enough to show every panel."""
        self._focus()
        before = self.driver.get_window_size()
        self.driver.set_window_size(*size)
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(before["width"], before["height"])


def move_groups_in_and_out(editor, prefix):
    """On ``editor``'s page: a group that enters, changes in and leaves the filter "name starts with
    ``prefix``", and another that enters it and is deleted; return their ids and the first one's last name."""
    other = editor.create("group", name=unique("other"))  # not matching yet: nothing for the watchers
    pk = editor.create("group", name=f"{prefix}-a")
    editor.edit("group", pk, name=f"{prefix}-b")
    archive = unique("archive")
    editor.edit("group", pk, name=archive)
    editor.edit("group", other, name=f"{prefix}-c")
    editor.delete("group", other)
    return pk, other, archive
