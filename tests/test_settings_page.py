"""The settings page as rendered HTML, read back with an HTML parser (never string-matched)."""

import json
import re
import tomllib

from autoconfig.address import parse_address
from autoconfig.formats.settings_page import FormState
from autoconfig.formats.settings_view import Target
from autoconfig.i18n import Catalogue, Catalogues, placeholders
from autoconfig.model import SERVICE_KINDS, Authentication, SocketType

from .conftest import BUNDLED, ROOT, VARIED
from .settings_support import (
    AUTH_METHODS,
    catalog,
    every_page,
    parse,
    render_address,
    render_domain,
    render_index,
    render_not_served,
    renderer,
    servers,
    text,
)

FIELDS = ["host", "port", "encryption", "username", "authentication"]


def _rows(body: bytes) -> list[tuple[str, str, dict[str, str]]]:
    return [(s.kind, s.heading, s.values) for s in servers(parse(body))]


def test_example_com_imap_then_pop3_then_both_smtp_servers():
    document = parse(render_address("alice@example.com"))
    shown = servers(document)
    assert [(s.kind, s.heading) for s in shown] == [
        ("imap", "IMAP server"),
        ("pop3", "POP3 server"),
        ("smtp", "SMTP server"),
        ("smtp", "SMTP server, alternative"),
    ]
    expected = [
        ("imap.example.com", "993", "SSL/TLS"),
        ("pop.example.com", "995", "SSL/TLS"),
        ("smtp.example.com", "465", "SSL/TLS"),
        ("smtp.example.com", "587", "STARTTLS"),
    ]
    for server, (host, port, encryption) in zip(shown, expected, strict=True):
        assert list(server.values) == FIELDS
        assert server.values == {
            "host": host,
            "port": port,
            "encryption": encryption,
            "username": "alice@example.com",
            "authentication": "Normal password",
        }
        assert server.copyable == set(FIELDS)
    assert shown[3].notes == (
        "Use this one if the one above does not work, for example when your network blocks "
        "its port.",
    )
    sections = [text(h2) for h2 in document.cssselect("main h2")]
    assert sections == ["Incoming mail", "Outgoing mail", "More help", "Another address"]
    assert text(document.cssselect("h1")[0]) == "Settings for alice@example.com"


def test_the_page_is_in_french_when_asked():
    document = parse(render_address("alice@example.com", "fr"))
    assert document.get("lang") == "fr"
    imap = servers(document)[0]
    assert imap.heading == "Serveur IMAP"
    assert imap.values["authentication"] == "Mot de passe normal"
    labels = [text(dt) for dt in document.cssselect("#in1 dt")]
    assert labels == [
        "Serveur",
        "Port",
        "Chiffrement",
        "Nom d\u2019utilisateur",
        "Authentification",
    ]
    assert servers(document)[3].values["encryption"] == "STARTTLS"


def test_links_to_webmail_and_the_documentation_in_the_readers_language():
    def links(language):
        document = parse(render_address("alice@example.com", language))
        return [(a.get("href"), text(a), a.get("lang")) for a in document.cssselect("#links a")]

    assert links("en") == [
        ("https://webmail.example.com/", "Read your mail in the browser (webmail)", None),
        ("https://www.example.com/help/mail-setup", "Setting up your mail client", None),
    ]
    assert links("fr")[1] == (
        "https://www.example.com/help/mail-setup",
        "Configurer votre logiciel de messagerie",
        None,
    )
    assert links("de")[1] == (
        "https://www.example.com/help/mail-setup",
        "Setting up your mail client",
        "en",
    )


def test_a_documentation_page_without_a_title_gets_a_generic_one():
    document = parse(render_address("alice@oauth.example", "es", VARIED))
    assert [(text(a), a.get("lang")) for a in document.cssselect("#links a")] == [
        ("Leer el correo en el navegador (webmail)", None),
        ("Mail help", "en"),
        ("Página de ayuda de su proveedor", None),
    ]


def test_the_apple_profile_button_names_the_address():
    document = parse(render_address("Alice+tag@Example.com"))
    (button,) = document.cssselect("a#apple-profile")
    assert button.get("href") == "/email.mobileconfig?emailaddress=Alice%2Btag%40Example.com"
    assert text(button) == "Install on iPhone/iPad/Mac"


def test_hosts_named_after_the_customer_domain_of_a_wildcard():
    shown = servers(parse(render_address("bob@shop.customers.example.org")))
    assert [
        (s.kind, s.values["host"], s.values["port"], s.values["encryption"]) for s in shown
    ] == [
        ("imap", "mail.shop.customers.example.org", "993", "SSL/TLS"),
        ("smtp", "mail.shop.customers.example.org", "465", "SSL/TLS"),
        ("smtp", "mail.shop.customers.example.org", "587", "STARTTLS"),
    ]


def test_oauth2_first_then_password_with_a_word_on_what_oauth2_does():
    document = parse(render_address("alice@groupware.example.org"))
    imap = servers(document)[0]
    assert imap.values["authentication"] == "OAuth2, or Normal password"
    assert imap.notes == (
        "With OAuth2 your app opens your provider's sign-in page instead of asking for your "
        "password. If your app does not offer OAuth2, choose the next method.",
    )
    french = servers(parse(render_address("alice@groupware.example.org", "fr")))[0]
    assert french.values["authentication"] == "OAuth2, ou Mot de passe normal"


def test_services_of_a_groupware_provider_follow_the_mail_servers():
    document = parse(render_address("alice@groupware.example.org"))
    shown = [s for s in servers(document) if s.kind not in ("imap", "pop3", "smtp")]
    assert [(s.kind, s.heading, s.values["url"], s.values["username"]) for s in shown] == [
        (
            "caldav",
            "Calendars (CalDAV)",
            "https://dav.groupware.example.org/dav/calendars/",
            "alice@groupware.example.org",
        ),
        (
            "carddav",
            "Contacts (CardDAV)",
            "https://dav.groupware.example.org/dav/contacts/",
            "alice@groupware.example.org",
        ),
        (
            "jmap",
            "JMAP",
            "https://mail.groupware.example.org/.well-known/jmap",
            "alice@groupware.example.org",
        ),
        (
            "activeSync",
            "Exchange ActiveSync",
            "https://mail.groupware.example.org/Microsoft-Server-ActiveSync",
            "alice@groupware.example.org",
        ),
    ]
    headings = [text(h2) for h2 in document.cssselect("main h2")]
    assert headings[:3] == [
        "Incoming mail",
        "Outgoing mail",
        "Calendars, contacts and other services",
    ]


def test_login_templates_are_filled_as_the_user_wrote_the_domain():
    shown = servers(parse(render_address("alice@a.sites.hoster.example", path=VARIED)))
    assert [(s.values["host"], s.values["username"]) for s in shown] == [
        ("pop.a.sites.hoster.example", "a.sites.hoster.example\\alice"),
        ("smtp.a.sites.hoster.example", "alice@a.sites.hoster.example"),
    ]
    shown = servers(parse(render_address("alice@Bücher.example", path=VARIED)))
    assert shown[0].values["username"] == "alice"


def test_a_server_that_takes_no_credentials_shows_no_user_name():
    shown = servers(parse(render_address("alice@oauth.example", path=VARIED)))
    relay = [server for server in shown if server.kind == "smtp"][-1]
    assert relay.values == {
        "host": "relay.oauth.example",
        "port": "25",
        "encryption": "None",
        "authentication": "None (your network is recognised)",
    }


def test_every_authentication_method_in_words():
    shown = servers(parse(render_address("alice@oauth-only.example", path=AUTH_METHODS)))
    assert [(s.kind, s.values["encryption"], s.values["authentication"]) for s in shown] == [
        ("imap", "SSL/TLS", "OAuth2"),
        ("pop3", "STARTTLS", "Kerberos (GSSAPI), or TLS client certificate"),
        ("smtp", "SSL/TLS", "OAuth2"),
        ("smtp", "STARTTLS", "Check incoming mail first (SMTP after POP)"),
        ("smtp", "None", "No authentication"),
    ]
    assert shown[0].notes == (
        "With OAuth2 your app opens your provider's sign-in page instead of asking for your "
        "password.",
    )
    assert "username" not in shown[3].values
    assert "username" not in shown[4].values


def test_three_methods_read_as_one_sentence():
    imap = servers(parse(render_address("alice@oauth.example", path=VARIED)))[0]
    assert imap.values["authentication"] == "OAuth2, or Encrypted password, or Normal password"
    assert (
        servers(parse(render_address("alice@oauth.example", "de", VARIED)))[0].values[
            "authentication"
        ]
        == "OAuth2 oder Verschlüsseltes Passwort oder Passwort, normal"
    )


def test_a_domain_page_describes_the_login_instead_of_guessing_it():
    document = parse(render_domain("example.com"))
    assert text(document.cssselect("h1")[0]) == "Settings for addresses at example.com"
    imap = servers(document)[0]
    assert imap.values["username"] == "Your full e-mail address"
    assert imap.copyable == {"host", "port", "encryption", "authentication"}
    assert not document.cssselect("#apple-profile")
    assert document.cssselect("#emailaddress")[0].get("value") == ""


def test_a_domain_page_fills_host_names_and_marks_what_depends_on_the_user():
    hosting = servers(parse(render_domain("shop.customers.example.org")))
    assert hosting[0].values["host"] == "mail.shop.customers.example.org"
    hoster = servers(parse(render_domain("hoster.example", "fr", VARIED)))
    assert hoster[0].values["username"] == "hoster.example\\\u2039nom\u203a"
    assert "username" not in hoster[0].copyable
    oauth = servers(parse(render_domain("oauth.example", path=VARIED)))
    assert oauth[0].values["username"] == "The part of your address before the @"


def test_an_internationalised_domain_is_shown_as_people_write_it():
    document = parse(render_domain("xn--bcher-kva.example", path=VARIED))
    assert text(document.cssselect("h1")[0]) == "Settings for addresses at bücher.example"


def test_every_address_at_a_domain_gets_the_same_page_but_for_the_address():
    """No signal about whether a mailbox exists: only the typed address differs."""
    alice = render_address("alice@example.com")
    nobody = render_address("zz-no-such-user@example.com")
    assert alice.replace(b"alice", b"zz-no-such-user") == nobody


def test_values_from_the_address_and_the_configuration_are_escaped():
    address = '"<script>alert(1)</script>"@example.com'
    body = render_address(address)
    document = parse(body)
    assert [s.get("src") for s in document.iter("script")] == [renderer().assets["copy.js"].url]
    assert servers(document)[0].values["username"] == address
    assert b"<script>alert" not in body
    hoster = parse(render_address("a@hoster.example", path=VARIED))
    assert text(hoster.cssselect("p.provider")[0]) == "Provider: Hoster & Co <Mail>"
    assert not hoster.cssselect("Mail")


def test_copy_buttons_are_hidden_until_the_script_shows_them_and_name_their_value():
    document = parse(render_address("alice@example.com"))
    buttons = document.cssselect("button.copy")
    assert len(buttons) == 4 * len(FIELDS)
    for button in buttons:
        assert button.get("hidden") is not None
        assert button.get("type") == "button"
        target = document.get_element_by_id(button.get("data-copy"))
        assert target.getparent() is button.getparent()
        label = text(button.getparent().getparent().cssselect("dt")[0])
        assert button.get("aria-label") == f"Copy {label}"
    (status,) = document.cssselect("#copy-status")
    assert (status.get("role"), status.get("data-done")) == ("status", "Copied")


def test_the_language_links_keep_the_address_and_mark_the_current_language():
    document = parse(render_address("alice@example.com", "fr"))
    links = [
        (a.get("href"), a.get("lang"), a.get("aria-current"), text(a))
        for a in document.cssselect("footer nav a")
    ]
    assert links == [
        ("/settings?emailaddress=alice%40example.com&lang=en", "en", None, "English"),
        ("/settings?emailaddress=alice%40example.com&lang=de", "de", None, "Deutsch"),
        ("/settings?emailaddress=alice%40example.com&lang=es", "es", None, "Español"),
        ("/settings?emailaddress=alice%40example.com&lang=fr", "fr", "page", "Français"),
    ]


def test_a_chosen_language_sticks_to_the_form_and_the_home_link():
    pages = renderer()
    chosen = parse(pages.index(pages.page("de", True, "/")))
    assert chosen.cssselect("input[name=lang]")[0].get("value") == "de"
    assert chosen.cssselect(".site-name a")[0].get("href") == "/?lang=de"
    negotiated = parse(pages.index(pages.page("de", False, "/")))
    assert not negotiated.cssselect("input[name=lang]")
    assert negotiated.cssselect(".site-name a")[0].get("href") == "/"


def test_the_index_page_is_a_form_that_asks_for_the_address():
    document = parse(render_index("es"))
    (form,) = document.forms
    assert (form.get("action"), form.get("method")) == ("/settings", "get")
    (field,) = form.cssselect("input[name=emailaddress]")
    assert (field.get("type"), field.get("autocomplete"), field.get("required")) == (
        "email",
        "email",
        "",
    )
    assert text(document.cssselect("label[for=emailaddress]")[0]) == (
        "Dirección de correo electrónico"
    )
    assert text(form.cssselect("button[type=submit]")[0]) == "Ver la configuración"


def test_a_wrong_address_is_explained_next_to_the_field():
    document = parse(render_index("fr", FormState("not an address", "error.invalid_address")))
    field = document.get_element_by_id("emailaddress")
    assert field.get("value") == "not an address"
    assert field.get("aria-invalid") == "true"
    assert field.get("aria-describedby").split() == ["emailaddress-hint", "emailaddress-error"]
    assert text(document.get_element_by_id("emailaddress-error")) == (
        "Cette adresse électronique n\u2019est pas valide. Vérifiez-la et réessayez."
    )


def test_an_unknown_domain_says_so_and_offers_the_form_again():
    document = parse(render_not_served("nowhere.example", "bob@nowhere.example"))
    assert text(document.cssselect("h1")[0]) == "No settings for nowhere.example"
    assert "publishes no mail settings for nowhere.example" in text(document.cssselect(".lead")[0])
    assert document.get_element_by_id("emailaddress").get("value") == "bob@nowhere.example"
    assert not servers(document)


def _pseudo_catalogues() -> Catalogues:
    """Every message replaced by ⟦key {placeholders}⟧, to find text that is not in a catalogue."""
    english = dict(renderer().catalogues["en"].messages)
    pseudo = {
        key: "⟦" + " ".join([key, *(f"{{{name}}}" for name in sorted(placeholders(value)))]) + "⟧"
        for key, value in english.items()
    }
    return Catalogues.from_texts({"en": json.dumps(pseudo)})


HUMAN_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder", "data-done", "data-failed")
NOT_WORDS = re.compile(
    r"""^(?:
        [^A-Za-z]*                                      # numbers, punctuation
      | alice(?:@[\w.\-]+)?                             # the address, its local part
      | https?://\S+                                    # a URL
      | [a-z0-9.\-]+\.(?:example|com|org)(?:\\alice)?  # a host name, a DOMAIN\\user login
    )$""",
    re.VERBOSE,
)


def _configured_words() -> set[str]:
    """What an admin wrote: provider names and documentation titles."""
    words = set()
    for path in (BUNDLED, VARIED):
        for entry in catalog(path).entries:
            words.add(entry.provider.display_name)
            for page in entry.provider.documentation:
                words.update(title for _, title in page.descriptions)
    return words


def test_every_word_on_the_page_comes_from_a_catalogue_or_from_the_configuration():
    """The pages rendered with a pseudo-language: any other text was written into a template."""
    configured = _configured_words()
    for name, body in every_page(catalogues=_pseudo_catalogues()).items():
        document = parse(body)
        for element in document.iter():
            if not isinstance(element.tag, str) or element.tag in ("script", "style"):
                continue
            for piece in (element.text, element.tail):
                piece = (piece or "").strip()
                if piece and "⟦" not in piece and piece not in configured:
                    assert NOT_WORDS.match(piece), f"{name}: {piece!r} is not in a catalogue"
            for attribute in HUMAN_ATTRIBUTES:
                value = element.get(attribute)
                if value is not None:
                    assert "⟦" in value, f"{name}: {attribute}={value!r} is not in a catalogue"


def test_no_inline_script_style_or_event_handler_that_the_csp_would_block():
    for name, body in every_page().items():
        document = parse(body)
        assert not document.cssselect("style"), name
        for element in document.iter():
            if not isinstance(element.tag, str):
                continue
            assert "style" not in element.attrib, name
            assert not [a for a in element.attrib if a.startswith("on")], name
        for script in document.iter("script"):
            assert script.get("src") and not (script.text or "").strip(), name
        for link in document.cssselect("link[rel=stylesheet]"):
            assert link.get("href").startswith("/static/"), name


class _Recording(dict):
    """Messages that note which keys the pages ask for."""

    asked: set[str]

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def test_every_english_message_is_used_and_every_protocol_word_has_one():
    english = renderer().catalogues["en"]
    recording = _Recording(english.messages)
    recording.asked = set()
    catalogues = Catalogues({"en": Catalogue("en", recording)})
    every_page(catalogues=catalogues)
    derived = {f"auth.{method.value}" for method in Authentication}
    derived |= {f"encryption.{socket.value}" for socket in SocketType}
    derived |= {f"service.{kind}" for kind in SERVICE_KINDS}
    derived |= {f"protocol.{kind}" for kind in ("imap", "pop3", "smtp")}
    assert not derived - set(english.messages), "en.json lacks words for protocol values"
    assert set(english.messages) - recording.asked - derived == set(), "unused messages"


def test_without_an_apple_profile_there_is_no_install_button():
    pages = renderer()
    match = catalog().lookup("example.com")
    target = Target("example.com", parse_address("alice@example.com"))
    page = pages.page("en", False, "/settings")
    with_button = parse(pages.settings(page, match.provider, target))
    without = parse(pages.settings(page, match.provider, target, apple_profile=False))
    assert with_button.cssselect("#apple-profile")
    assert not without.cssselect("#apple-profile")


def test_every_template_catalogue_and_static_file_ships_in_a_non_editable_install():
    """pyproject's package-data globs must name every file the page reads from the package."""
    package = ROOT / "autoconfig"
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    shipped = {
        path
        for name, patterns in globs.items()
        for pattern in patterns
        for path in (ROOT / name.replace(".", "/")).glob(pattern)
    }
    for folder in ("templates", "static", "i18n"):
        for path in (package / folder).iterdir():
            if path.is_file() and path.suffix != ".py":
                assert path in shipped, f"{path.relative_to(ROOT)} is not package data"
