"""The settings page in a real browser: headless Chromium (Debian's), driven with Selenium.

A person types an address, submits, reads the settings, clicks a copy button; the page is
photographed at desktop (1280 px) and phone (390 px) width into the test's tmp_path, and must
not scroll sideways on the phone. Also: the page without JavaScript, the language the browser
asks for, and no Content-Security-Policy violation in the console.

Needs `chromium` and `chromedriver` (Debian's chromium and chromium-driver packages; `make test`
installs them when it runs as root) and selenium (the test extras). Without them these tests
are skipped with the reason; nothing is downloaded at run time.
"""

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'"
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT_SECONDS = 10


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[webdriver.Chrome]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed "
            "(`make test` installs them when run as root; else apt-get install chromium "
            "chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser, bundled_server) -> Iterator[webdriver.Chrome]:
    """The browser at desktop size, scripts on, the browser's own language, clipboard allowed."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {
            "origin": bundled_server,
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
        },
    )
    _viewport(browser, DESKTOP)
    browser.get_log("browser")
    yield browser


def _viewport(driver, size: tuple[int, int]) -> None:
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def _screenshot(driver, path: Path) -> Path:
    """The whole page, not only the viewport, as a PNG."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def _field_by_label(driver, label_text: str) -> WebElement:
    for label in driver.find_elements(By.TAG_NAME, "label"):
        if label.text.strip() == label_text:
            return driver.find_element(By.ID, label.get_attribute("for"))
    raise AssertionError(f"no field labelled {label_text!r}")


def _servers(driver) -> list[tuple[str, str, dict[str, str]]]:
    """(kind, heading, field -> value) of every server box, as the page shows them."""
    shown = []
    for box in driver.find_elements(By.CSS_SELECTOR, "article.server"):
        values = {
            dd.get_attribute("data-field"): dd.find_element(
                By.CSS_SELECTOR, ".value, .described"
            ).text
            for dd in box.find_elements(By.TAG_NAME, "dd")
        }
        heading = box.find_element(By.TAG_NAME, "h3").text
        shown.append((box.get_attribute("data-kind"), heading, values))
    return shown


def _csp_violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def _wait(driver, condition, message: str):
    return WebDriverWait(driver, WAIT_SECONDS).until(condition, message)


def test_type_an_address_read_the_settings_copy_one_and_photograph_it(
    page, bundled_server, tmp_path
):
    page.get(f"{bundled_server}/")
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    field = _field_by_label(page, "E-mail address")
    field.send_keys("alice@example.com", Keys.ENTER)
    _wait(page, lambda d: "/settings?" in d.current_url, "the form did not lead to /settings")
    assert page.find_element(By.TAG_NAME, "h1").text == "Settings for alice@example.com"

    shown = _servers(page)
    assert [(kind, heading) for kind, heading, _ in shown] == [
        ("imap", "IMAP server"),
        ("pop3", "POP3 server"),
        ("smtp", "SMTP server"),
        ("smtp", "SMTP server, alternative"),
    ]
    imap = shown[0][2]
    assert imap == {
        "host": "imap.example.com",
        "port": "993",
        "encryption": "SSL/TLS",
        "username": "alice@example.com",
        "authentication": "Normal password",
    }
    assert [(v["port"], v["encryption"]) for _, _, v in shown[2:]] == [
        ("465", "SSL/TLS"),
        ("587", "STARTTLS"),
    ]
    profile = page.find_element(By.ID, "apple-profile")
    assert profile.text == "Install on iPhone/iPad/Mac"
    assert profile.get_attribute("href") == (
        f"{bundled_server}/email.mobileconfig?emailaddress=alice%40example.com"
    )

    button = page.find_element(By.CSS_SELECTOR, "#in1 dd[data-field=host] button.copy")
    assert button.is_displayed(), "the script did not show the copy buttons"
    assert button.accessible_name == "Copy Server"
    button.click()
    _wait(page, lambda d: button.get_attribute("data-state") == "copied", "no copied state")
    assert button.text == "Copied"
    assert page.find_element(By.ID, "copy-status").get_attribute("textContent") == "Copied"
    clipboard = page.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (error) => done('failed: ' + error));"
    )
    assert clipboard == "imap.example.com"

    desktop = _screenshot(page, tmp_path / "settings-1280.png")
    _viewport(page, PHONE)
    page.refresh()
    assert page.execute_script("return window.innerWidth") == PHONE[0]
    assert page.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    host = page.find_element(By.ID, "in1-host")
    assert host.rect["x"] + host.rect["width"] <= PHONE[0]
    phone = _screenshot(page, tmp_path / "settings-390.png")
    for shot in (desktop, phone):
        assert shot.stat().st_size > 10_000
    assert _csp_violations(page) == []
    print(f"screenshots: {desktop} {phone}")


def test_the_index_page_fits_a_phone(page, bundled_server, tmp_path):
    _viewport(page, PHONE)
    page.get(f"{bundled_server}/?lang=fr")
    assert page.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    field = _field_by_label(page, "Adresse électronique")
    assert field.rect["width"] > PHONE[0] / 2
    _screenshot(page, tmp_path / "index-390.png")
    assert _csp_violations(page) == []


def test_the_page_works_without_javascript(page, bundled_server):
    page.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    page.get(f"{bundled_server}/")
    _field_by_label(page, "E-mail address").send_keys("bob@shop.customers.example.org")
    page.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait(page, lambda d: "/settings?" in d.current_url, "the form did not submit")
    shown = _servers(page)
    assert shown[0][2]["host"] == "mail.shop.customers.example.org"
    assert shown[0][2]["username"] == "bob@shop.customers.example.org"
    buttons = page.find_elements(By.CSS_SELECTOR, "button.copy")
    assert buttons and not any(button.is_displayed() for button in buttons)


def test_the_browser_language_and_the_language_links(page, bundled_server):
    page.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "fr-CA,fr;q=0.9"}}
    )
    page.get(f"{bundled_server}/settings?emailaddress=alice@groupware.example.org")
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    imap = _servers(page)[0][2]
    assert imap["authentication"] == "OAuth2, ou Mot de passe normal"
    page.find_element(By.CSS_SELECTOR, "footer a[lang=de]").click()
    _wait(page, lambda d: "lang=de" in d.current_url, "the language link did not lead on")
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    assert page.find_element(By.TAG_NAME, "h1").text == (
        "Einstellungen für alice@groupware.example.org"
    )
    field = _field_by_label(page, "E-Mail-Adresse")
    field.clear()
    field.send_keys("carol@example.com", Keys.ENTER)
    _wait(page, lambda d: "carol" in d.current_url, "the form did not submit")
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"


def test_an_unknown_domain_is_explained(page, bundled_server):
    page.get(f"{bundled_server}/")
    _field_by_label(page, "E-mail address").send_keys("dave@nowhere.example", Keys.ENTER)
    _wait(page, lambda d: "/settings?" in d.current_url, "the form did not submit")
    assert page.find_element(By.TAG_NAME, "h1").text == "No settings for nowhere.example"
    assert not page.find_elements(By.CSS_SELECTOR, "article.server")
