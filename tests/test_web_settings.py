"""The settings page through the app: routes, language choice, status codes and headers."""

import urllib.error
import urllib.request

import pytest
from aiohttp import web

from autoconfig.catalog import Catalog
from autoconfig.cli import build_parser
from autoconfig.config.loader import load_providers
from autoconfig.web.app import SERVICE, AppOptions, create_app

from .conftest import BUNDLED, VARIED, live_server
from .settings_support import AUTH_METHODS, parse, servers, text

PAGE_PATHS = ["/", "/settings", "/settings?emailaddress=a@example.com", "/settings/example.com"]


def _csp(response) -> dict[str, str]:
    directives = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = directive.strip().partition(" ")
        directives[name] = value
    return directives


@pytest.mark.parametrize("path", PAGE_PATHS)
async def test_pages_are_html_with_a_strict_content_security_policy(client, path):
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert _csp(response) == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Accept-Language" in response.headers["Vary"]
    assert parse(await response.read()).get("lang") == "en"


async def test_a_page_with_an_address_is_neither_cached_nor_indexed(client):
    response = await client.get("/settings", params={"emailaddress": "alice@example.com"})
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Robots-Tag"] == "noindex"
    document = parse(await response.read())
    assert [s.values["host"] for s in servers(document)] == [
        "imap.example.com",
        "pop.example.com",
        "smtp.example.com",
        "smtp.example.com",
    ]
    assert servers(document)[0].values["username"] == "alice@example.com"


async def test_pages_without_an_address_may_be_cached_briefly(client):
    for path in ("/", "/settings/example.com"):
        response = await client.get(path)
        assert response.headers["Cache-Control"] == "public, max-age=300"


async def test_the_address_parameter_in_any_letter_case_and_with_spaces(client):
    response = await client.get("/settings", params={"EmailAddress": "  bob@example.net "})
    assert response.status == 200
    document = parse(await response.read())
    assert text(document.cssselect("h1")[0]) == "Settings for bob@example.net"
    response = await client.get("/settings", params={"email": "carol@example.com"})
    assert servers(parse(await response.read()))[0].values["username"] == "carol@example.com"


@pytest.mark.parametrize(
    ("header", "query", "language"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", {}, "fr"),
        ("de-AT", {}, "de"),
        ("es;q=0.8, de;q=0.5, it", {}, "es"),
        ("ja, it", {}, "en"),
        ("fr;q=0, *;q=0.1", {}, "en"),
        ("fr-CA", {"lang": "de"}, "de"),
        ("fr-CA", {"LANG": "es-MX"}, "es"),
        ("de", {"lang": "xx"}, "de"),
    ],
)
async def test_the_language_from_accept_language_or_lang(client, header, query, language):
    response = await client.get(
        "/settings",
        params={"emailaddress": "alice@example.com", **query},
        headers={"Accept-Language": header},
    )
    document = parse(await response.read())
    assert document.get("lang") == language
    current = document.cssselect("footer a[aria-current=page]")[0]
    assert current.get("lang") == language


async def test_an_unknown_domain_is_a_404_page_that_says_so(client):
    response = await client.get(
        "/settings",
        params={"emailaddress": "bob@nowhere.example"},
        headers={"Accept-Language": "fr"},
    )
    assert response.status == 404
    assert response.headers["Cache-Control"] == "no-store"
    document = parse(await response.read())
    assert text(document.cssselect("h1")[0]) == "Aucun paramètre pour nowhere.example"
    assert document.get_element_by_id("emailaddress").get("value") == "bob@nowhere.example"
    response = await client.get("/settings/nowhere.example")
    assert response.status == 404
    assert text(parse(await response.read()).cssselect("h1")[0]) == (
        "No settings for nowhere.example"
    )


async def test_a_domain_that_only_redirects_has_no_page(varied_client):
    response = await varied_client.get("/settings", params={"emailaddress": "a@redirect.example"})
    assert response.status == 404
    response = await varied_client.get("/settings", params={"emailaddress": "a@moved.example"})
    assert response.status == 200


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({}, 200, None),
        ({"emailaddress": ""}, 400, "Type an e-mail address."),
        ({"emailaddress": "  "}, 400, "Type an e-mail address."),
        (
            {"emailaddress": "no-at-sign"},
            400,
            "This is not a valid e-mail address. Check it and try again.",
        ),
        (
            {"emailaddress": "a@[192.0.2.1]"},
            400,
            "This is not a valid e-mail address. Check it and try again.",
        ),
    ],
)
async def test_without_a_usable_address_the_form_comes_back(client, query, status, error):
    response = await client.get("/settings", params=query)
    assert response.status == status
    document = parse(await response.read())
    assert document.get_element_by_id("emailaddress") is not None
    errors = document.cssselect("#emailaddress-error")
    assert [text(e) for e in errors] == ([error] if error else [])


async def test_an_invalid_domain_in_the_path_is_a_400(client):
    response = await client.get("/settings/not_a_domain!")
    assert response.status == 400
    document = parse(await response.read())
    assert text(document.cssselect("#emailaddress-error")[0]) == "This is not a valid domain name."


async def test_the_static_files_the_page_names_are_served_with_the_same_headers(client):
    document = parse(await (await client.get("/")).read())
    urls = [document.cssselect("link[rel=stylesheet]")[0].get("href")]
    urls += [script.get("src") for script in document.iter("script")]
    types = []
    for url in urls:
        response = await client.get(url)
        assert response.status == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in response.headers
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        types.append(response.headers["Content-Type"])
    assert types == ["text/css; charset=utf-8", "text/javascript; charset=utf-8"]


async def test_head_answers_like_get(client):
    response = await client.head("/settings", params={"emailaddress": "alice@example.com"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


async def test_the_page_follows_a_reload(client):
    client.server.app[SERVICE].state.catalog = Catalog(load_providers(VARIED))
    response = await client.get("/settings", params={"emailaddress": "alice@example.com"})
    assert response.status == 404
    response = await client.get("/settings", params={"emailaddress": "alice@oauth.example"})
    assert servers(parse(await response.read()))[0].values["host"] == "imap.oauth.example"


@pytest.fixture
def app_without_page() -> web.Application:
    return create_app(AppOptions(config_path=BUNDLED, settings_page=False))


@pytest.mark.parametrize(
    "path", [*PAGE_PATHS, "/static/settings.css", "/static/copy.js", "/settings/nowhere.example"]
)
async def test_switched_off_the_page_and_its_files_are_404(aiohttp_client, app_without_page, path):
    client = await aiohttp_client(app_without_page)
    assert (await client.get(path)).status == 404
    response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": "a@example.com"})
    assert response.status == 200


def test_serve_has_a_switch_to_turn_the_page_off():
    assert build_parser().parse_args(["serve"]).settings_page is True
    assert build_parser().parse_args(["serve", "--no-settings-page"]).settings_page is False


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_served_instance_without_the_page():
    with live_server(BUNDLED, "--no-settings-page") as base:
        assert _status(f"{base}/") == 404
        assert _status(f"{base}/settings?emailaddress=a@example.com") == 404
        assert _status(f"{base}/mail/config-v1.1.xml?emailaddress=a@example.com") == 200


def test_a_served_instance_with_the_page(bundled_server):
    assert _status(f"{bundled_server}/") == 200
    assert _status(f"{bundled_server}/settings?emailaddress=a@example.com") == 200


async def test_the_install_button_leads_to_the_apple_profile_of_the_address(client):
    response = await client.get("/settings", params={"emailaddress": "alice@example.com"})
    (button,) = parse(await response.read()).cssselect("a#apple-profile")
    profile = await client.get(button.get("href"))
    assert profile.status == 200
    assert b"alice@example.com" in await profile.read()
    assert "attachment" in profile.headers["Content-Disposition"]


async def test_no_install_button_where_apple_mail_cannot_sign_in(aiohttp_client):
    client = await aiohttp_client(create_app(AppOptions(config_path=AUTH_METHODS)))
    response = await client.get("/settings", params={"emailaddress": "alice@oauth-only.example"})
    assert response.status == 200
    assert not parse(await response.read()).cssselect("#apple-profile")
    assert (await client.get("/email.mobileconfig?emailaddress=a@oauth-only.example")).status == 404
