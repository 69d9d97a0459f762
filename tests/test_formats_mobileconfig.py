"""Apple configuration profiles: what a device installs, field by field, against the provider."""

import dataclasses
import plistlib
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoconfig.address import parse_address
from autoconfig.config.loader import load_providers
from autoconfig.formats import mobileconfig
from autoconfig.model import Authentication, Provider

from .apple_support import load_profile, schema_available, schema_problems
from .conftest import BUNDLED, DATA, VARIED

APPLE = DATA / "apple.yaml"


def providers(path: Path) -> dict[str, Provider]:
    return {provider.id: provider for provider in load_providers(path)}


@pytest.fixture(scope="module")
def bundled() -> dict[str, Provider]:
    return providers(BUNDLED)


@pytest.fixture(scope="module")
def apple() -> dict[str, Provider]:
    return providers(APPLE)


def profile_for(provider: Provider, address: str) -> dict:
    return load_profile(mobileconfig.render(provider, parse_address(address)))


def mail_payload(profile: dict) -> dict:
    (mail,) = [p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.mail.managed"]
    return mail


def test_bundled_provider_becomes_one_imap_account_with_its_first_smtp_server(bundled):
    profile = profile_for(bundled["example.com"], "alice@example.com")
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadVersion"] == 1
    assert profile["PayloadDisplayName"] == "Example Mail: alice@example.com"
    assert profile["PayloadOrganization"] == "Example Mail"
    assert [p["PayloadType"] for p in profile["PayloadContent"]] == ["com.apple.mail.managed"]
    mail = mail_payload(profile)
    expected = {
        "EmailAccountDescription": "Example Mail",
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": "alice@example.com",
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": "imap.example.com",
        "IncomingMailServerPortNumber": 993,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": "alice@example.com",
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": "smtp.example.com",
        "OutgoingMailServerPortNumber": 465,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": "alice@example.com",
        "OutgoingPasswordSameAsIncomingPassword": True,
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
    }
    assert {key: mail[key] for key in expected} == expected


def test_no_password_and_no_sender_name_is_put_in_the_profile(bundled):
    mail = mail_payload(profile_for(bundled["example.com"], "alice@example.com"))
    assert not {"IncomingPassword", "OutgoingPassword"} & mail.keys()
    assert "EmailAccountName" not in mail  # the name in From:, which only the user knows


def test_starttls_servers_use_tls_on_their_own_ports_with_apple_auth_names(apple):
    mail = mail_payload(profile_for(apple["starttls.example"], "x@starttls.example"))
    assert (mail["IncomingMailServerPortNumber"], mail["IncomingMailServerUseSSL"]) == (143, True)
    assert (mail["OutgoingMailServerPortNumber"], mail["OutgoingMailServerUseSSL"]) == (587, True)
    assert mail["IncomingMailServerAuthentication"] == "EmailAuthCRAMMD5"
    assert mail["OutgoingMailServerAuthentication"] == "EmailAuthNTLM"


def test_plain_servers_are_not_marked_tls_and_an_open_relay_gets_no_login(apple):
    mail = mail_payload(profile_for(apple["plain.example"], "x@plain.example"))
    assert mail["IncomingMailServerUseSSL"] is False
    assert mail["OutgoingMailServerUseSSL"] is False
    assert mail["OutgoingMailServerAuthentication"] == "EmailAuthNone"
    assert "OutgoingMailServerUsername" not in mail
    assert "OutgoingPasswordSameAsIncomingPassword" not in mail
    assert mail["IncomingMailServerUsername"] == "x@plain.example"


@pytest.mark.parametrize(
    ("methods", "apple_value"),
    [
        ((Authentication.PASSWORD_CLEARTEXT,), "EmailAuthPassword"),
        ((Authentication.PASSWORD_ENCRYPTED,), "EmailAuthCRAMMD5"),
        ((Authentication.NTLM,), "EmailAuthNTLM"),
        ((Authentication.OAUTH2, Authentication.PASSWORD_CLEARTEXT), "EmailAuthPassword"),
        ((Authentication.GSSAPI, Authentication.NTLM), "EmailAuthNTLM"),
        ((Authentication.TLS_CLIENT_CERT, Authentication.PASSWORD_ENCRYPTED), "EmailAuthCRAMMD5"),
        ((Authentication.NONE,), "EmailAuthNone"),
        ((Authentication.CLIENT_IP_ADDRESS,), "EmailAuthNone"),
        ((Authentication.SMTP_AFTER_POP,), "EmailAuthNone"),
    ],
)
def test_first_method_apple_knows_decides_the_authentication(bundled, methods, apple_value):
    provider = bundled["example.com"]
    smtp = dataclasses.replace(provider.outgoing[0], authentication=methods)
    provider = dataclasses.replace(provider, outgoing=(smtp,))
    mail = mail_payload(profile_for(provider, "a@example.com"))
    assert mail["OutgoingMailServerAuthentication"] == apple_value
    assert ("OutgoingMailServerUsername" in mail) is (apple_value != "EmailAuthNone")


def test_imap_is_preferred_and_servers_apple_cannot_sign_in_to_are_skipped(apple):
    mail = mail_payload(profile_for(apple["choosy.example"], "Bob@choosy.example"))
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["IncomingMailServerHostName"] == "Bob.imap.choosy.example"
    assert mail["IncomingMailServerUsername"] == "Bob"
    assert mail["OutgoingMailServerHostName"] == "smtp.choosy.example"
    assert mail["OutgoingMailServerUsername"] == "Bob@choosy.example"
    assert "OutgoingPasswordSameAsIncomingPassword" not in mail  # different login names


def test_a_pop3_only_provider_gets_a_pop_account_with_placeholders_filled():
    provider = providers(VARIED)["hoster.example"]
    mail = mail_payload(profile_for(provider, "Anna@Bücher.Sites.Hoster.Example"))
    assert mail["EmailAccountType"] == "EmailTypePOP"
    assert mail["IncomingMailServerHostName"] == "pop.xn--bcher-kva.sites.hoster.example"
    assert mail["OutgoingMailServerHostName"] == "smtp.xn--bcher-kva.sites.hoster.example"
    assert mail["IncomingMailServerUsername"] == "Bücher.Sites.Hoster.Example\\Anna"
    assert mail["EmailAddress"] == "Anna@Bücher.Sites.Hoster.Example"
    assert mail["EmailAccountDescription"] == "Hoster & Co <Mail>"


def test_dav_services_become_calendar_and_contacts_accounts(bundled):
    profile = profile_for(bundled["groupware.example.org"], "bob@groupware.example.org")
    caldav, carddav = profile["PayloadContent"][1:]
    assert caldav == caldav | {
        "PayloadType": "com.apple.caldav.account",
        "CalDAVHostName": "dav.groupware.example.org",
        "CalDAVPort": 443,
        "CalDAVUseSSL": True,
        "CalDAVPrincipalURL": "/dav/calendars/",
        "CalDAVUsername": "bob@groupware.example.org",
        "CalDAVAccountDescription": "Example Groupware calendars",
    }
    assert carddav == carddav | {
        "PayloadType": "com.apple.carddav.account",
        "CardDAVHostName": "dav.groupware.example.org",
        "CardDAVPort": 443,
        "CardDAVUseSSL": True,
        "CardDAVPrincipalURL": "/dav/contacts/",
        "CardDAVUsername": "bob@groupware.example.org",
    }
    assert "Mail, Calendar and Contacts" in profile["PayloadDescription"]
    assert mail_payload(profile)["IncomingMailServerAuthentication"] == "EmailAuthPassword"


def test_dav_url_is_split_into_host_port_path_and_the_login_template_is_filled(apple):
    profile = profile_for(apple["dav.example"], "carol@dav.example")
    caldav, carddav = profile["PayloadContent"][1:]
    assert (caldav["CalDAVHostName"], caldav["CalDAVPort"]) == ("cal.dav.example", 8443)
    assert caldav["CalDAVPrincipalURL"] == "/dav/cal/?user=1"
    assert caldav["CalDAVUsername"] == "carol"
    assert (carddav["CardDAVHostName"], carddav["CardDAVPort"]) == ("contacts.dav.example", 443)
    assert "CardDAVPrincipalURL" not in carddav  # a bare host: the device discovers the path


def test_a_dav_url_with_an_impossible_port_is_left_out_not_the_whole_profile(apple):
    profile = profile_for(apple["badport.example"], "x@badport.example")
    kinds = [p["PayloadType"] for p in profile["PayloadContent"]]
    assert kinds == ["com.apple.mail.managed", "com.apple.carddav.account"]
    assert "Mail and Contacts" in profile["PayloadDescription"]


def test_a_provider_without_usable_servers_gets_no_profile_by_either_path(apple):
    redirect_only = providers(VARIED)["redirect.example"]
    oauth_only = apple["oauth-only.example"]
    address = parse_address("x@oauth-only.example")
    for provider, reason in [(oauth_only, "OAuth2"), (redirect_only, "no mail servers")]:
        with pytest.raises(mobileconfig.ProfileUnavailable, match=reason) as rendered:
            mobileconfig.render(provider, address)
        compiled = mobileconfig.compile_provider(provider)
        with pytest.raises(mobileconfig.ProfileUnavailable) as filled:
            compiled.fill(address)
        assert str(filled.value) == str(rendered.value)


def test_odd_addresses_are_escaped_and_read_back_unchanged(bundled):
    odd = '"a<b>&c"@example.com'
    raw = mobileconfig.render(bundled["example.com"], parse_address(odd))
    assert b"&quot;" not in raw
    assert b'<string>"a&lt;b&gt;&amp;c"@example.com</string>' in raw
    mail = mail_payload(load_profile(raw))
    assert mail["EmailAddress"] == odd
    assert mail["IncomingMailServerUsername"] == odd


def test_the_same_address_gives_the_same_bytes_and_identity_every_time(bundled):
    provider = bundled["example.com"]
    first = mobileconfig.render(provider, parse_address("alice@example.com"))
    assert mobileconfig.render(provider, parse_address("alice@example.com")) == first
    # Another spelling of the same domain is the same account: reinstalling replaces it.
    other = load_profile(mobileconfig.render(provider, parse_address("alice@EXAMPLE.com")))
    assert other["PayloadUUID"] == load_profile(first)["PayloadUUID"]
    assert other["PayloadIdentifier"] == load_profile(first)["PayloadIdentifier"]


def test_two_addresses_never_share_an_identifier_or_uuid(bundled):
    provider = bundled["groupware.example.org"]
    seen_ids, seen_uuids = set(), set()
    for address in [
        "a@groupware.example.org",
        "b@groupware.example.org",
        "A@groupware.example.org",
    ]:
        profile = profile_for(provider, address)
        parts = [profile, *profile["PayloadContent"]]
        ids = {part["PayloadIdentifier"] for part in parts}
        uuids = {part["PayloadUUID"] for part in parts}
        assert len(ids) == len(uuids) == 4
        assert not ids & seen_ids and not uuids & seen_uuids
        seen_ids |= ids
        seen_uuids |= uuids


def test_identifiers_are_reverse_dns_of_the_provider_and_uuids_are_uuid5(bundled):
    profile = profile_for(bundled["groupware.example.org"], "bob@groupware.example.org")
    top = profile["PayloadIdentifier"]
    assert re.fullmatch(r"org\.example\.groupware\.autoconfig\.[0-9A-F-]{36}", top)
    assert top.endswith(profile["PayloadUUID"])
    for payload, part in zip(profile["PayloadContent"], ["mail", "caldav", "carddav"], strict=True):
        assert payload["PayloadIdentifier"] == f"{top}.{part}"
        assert uuid.UUID(payload["PayloadUUID"]).version == 5


def test_the_uuid_of_an_address_never_changes_between_releases(bundled):
    """Pinned: a changed namespace or name scheme would make every device that reinstalls a
    profile keep the old account beside the new one."""
    profile = profile_for(bundled["example.com"], "alice@example.com")
    assert profile["PayloadUUID"] == "75CA19DB-3A0E-51A3-9575-111316619C15"
    assert (
        profile["PayloadIdentifier"]
        == "com.example.autoconfig.75CA19DB-3A0E-51A3-9575-111316619C15"
    )


ADDRESSES = [
    "alice@{d}",
    "Bob.Smith+tag@{d}",
    '"a<b>&c"@{d}',
    '"quoted \\"x\\" & <y>"@{d}',
    "ünïcødé@{d}",
    "o'neil&co@{d}",
]


@pytest.mark.parametrize("path", [BUNDLED, VARIED, APPLE], ids=lambda p: p.name)
def test_pre_rendered_profile_gives_the_same_bytes_as_rendering_from_scratch(path):
    for provider in load_providers(path):
        compiled = mobileconfig.compile_provider(provider)
        if compiled.template is None:
            continue
        for domain in provider.all_exact_domains:
            for template in ADDRESSES:
                address = parse_address(template.format(d=domain))
                assert compiled.fill(address) == mobileconfig.render(provider, address)


def test_download_name_is_the_provider_id():
    bundled = providers(BUNDLED)
    assert mobileconfig.download_name(bundled["example.com"]) == "example.com.mobileconfig"
    odd = dataclasses.replace(bundled["example.com"], id="2001:db8::1")
    assert mobileconfig.download_name(odd) == "2001-db8-1.mobileconfig"


@pytest.mark.skipif(not schema_available(), reason="../shared/data/schemas/apple is absent")
@pytest.mark.parametrize("path", [BUNDLED, VARIED, APPLE], ids=lambda p: p.name)
def test_every_profile_satisfies_apples_schema(path):
    checked = 0
    for provider in load_providers(path):
        for domain in provider.all_exact_domains:
            for template in ADDRESSES:
                try:
                    raw = mobileconfig.render(provider, parse_address(template.format(d=domain)))
                except mobileconfig.ProfileUnavailable:
                    continue
                assert schema_problems(plistlib.loads(raw)) == []
                checked += 1
    assert checked


@pytest.mark.skipif(not schema_available(), reason="../shared/data/schemas/apple is absent")
def test_the_schema_validator_catches_what_a_device_would_reject(bundled):
    """The validator above is only worth something if it fails on broken profiles."""
    good = profile_for(bundled["groupware.example.org"], "bob@groupware.example.org")
    mail = mail_payload(good)
    broken = [
        ("IncomingMailServerHostName", None, "required key IncomingMailServerHostName"),
        ("IncomingMailServerPortNumber", "993", "not of type <integer>"),
        ("IncomingMailServerUseSSL", 1, "not of type <boolean>"),
        ("OutgoingMailServerAuthentication", "EmailAuthOAuth", "not one of"),
        ("EmailAccountType", "EmailTypeExchange", "not one of"),
        ("EmailAccountTypo", "x", "not in Apple's schema"),
        ("PayloadUUID", good["PayloadUUID"], "PayloadUUID values repeat"),
        ("SMIMESigningCertificateUUID", "not-a-uuid", "does not match"),
    ]
    for key, value, message in broken:
        changed = dict(mail)
        if value is None:
            del changed[key]
        else:
            changed[key] = value
        profile = good | {"PayloadContent": [changed, *good["PayloadContent"][1:]]}
        problems = schema_problems(profile)
        assert any(message in problem for problem in problems), (key, problems)
    caldav = good["PayloadContent"][1] | {"CalDAVPort": "443"}
    assert schema_problems(good | {"PayloadContent": [mail, caldav]})
    assert schema_problems(good | {"PayloadVersion": 2})


LOCAL_PARTS = st.one_of(
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,30}(\.[A-Za-z0-9_-]{1,10}){0,2}", fullmatch=True
    ),
    st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(
    local=LOCAL_PARTS, domain=st.sampled_from(["groupware.example.org", "GroupWare.Example.ORG"])
)
def test_every_payload_uuid_is_the_uuid5_of_provider_address_and_part(bundled, local, domain):
    """Devices recognise a reinstalled profile by these UUIDs: each is uuid5 in the project's
    namespace of `provider id, address (domain normalised), part`, one per line."""
    provider = bundled["groupware.example.org"]
    profile = profile_for(provider, f"{local}@{domain}")
    address = f"{local}@groupware.example.org"
    for payload, part in zip(
        [profile, *profile["PayloadContent"]], ["profile", "mail", "caldav", "carddav"], strict=True
    ):
        name = f"{provider.id}\n{address}\n{part}"
        assert (
            payload["PayloadUUID"] == str(uuid.uuid5(mobileconfig.PROFILE_NAMESPACE, name)).upper()
        )
