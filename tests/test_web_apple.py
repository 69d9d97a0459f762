"""Apple profiles over HTTP: what Safari downloads, every error a user can cause, and signing."""

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from autoconfig.address import parse_address
from autoconfig.cli import main
from autoconfig.config.loader import load_providers
from autoconfig.formats import mobileconfig
from autoconfig.formats.profile_signing import SigningSetupError, load_signer
from autoconfig.web.app import AppOptions, create_app

from .apple_support import (
    SigningFiles,
    key_pem,
    load_profile,
    make_signing_files,
    openssl_verify,
)
from .conftest import BUNDLED, DATA, VARIED, free_port

PATHS = ["/email.mobileconfig", "/apple/mobileconfig"]
APPLE = DATA / "apple.yaml"
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is absent")


def provider(path: Path, provider_id: str):
    return next(p for p in load_providers(path) if p.id == provider_id)


@pytest.fixture(scope="module")
def signing(tmp_path_factory) -> SigningFiles:
    return make_signing_files(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def apple_client(aiohttp_client):
    return await aiohttp_client(create_app(AppOptions(config_path=APPLE)))


@pytest.fixture
async def signed_client(aiohttp_client, signing):
    settings = AppOptions(config_path=BUNDLED, profile_cert=signing.chain, profile_key=signing.key)
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize("path", PATHS)
async def test_download_is_an_installable_profile_for_the_address(client, path):
    response = await client.get(path, params={"emailaddress": "alice@example.com"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="example.com.mobileconfig"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.read()
    expected = mobileconfig.render(
        provider(BUNDLED, "example.com"), parse_address("alice@example.com")
    )
    assert body == expected
    mail = load_profile(body)["PayloadContent"][0]
    assert mail["EmailAddress"] == "alice@example.com"
    assert mail["IncomingMailServerHostName"] == "imap.example.com"
    assert mail["OutgoingMailServerHostName"] == "smtp.example.com"


@pytest.mark.parametrize("name", ["emailaddress", "email", "EmailAddress", "EMAIL", "eMail"])
async def test_the_address_parameter_has_two_names_in_any_letter_case(client, name):
    response = await client.get(PATHS[0], params={name: "bob@example.net"})
    assert response.status == 200
    profile = load_profile(await response.read())
    assert profile["PayloadContent"][0]["EmailAddress"] == "bob@example.net"


async def test_downloading_twice_gives_identical_bytes_and_two_addresses_differ(client):
    bodies = []
    for address in ["alice@example.com", "alice@example.com", "bob@example.com"]:
        response = await client.get(PATHS[0], params={"email": address})
        bodies.append(await response.read())
    assert bodies[0] == bodies[1]
    first, other = load_profile(bodies[0]), load_profile(bodies[2])
    assert first["PayloadUUID"] != other["PayloadUUID"]
    assert first["PayloadIdentifier"] != other["PayloadIdentifier"]


async def test_an_odd_address_comes_back_exactly_as_sent(client):
    odd = '"a<b>&c"@example.com'
    response = await client.get(PATHS[0], params={"emailaddress": odd})
    assert response.status == 200
    mail = load_profile(await response.read())["PayloadContent"][0]
    assert mail["EmailAddress"] == odd
    assert mail["OutgoingMailServerUsername"] == odd


async def test_groupware_profile_carries_calendars_and_contacts(client):
    response = await client.get(PATHS[1], params={"email": "bob@groupware.example.org"})
    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith('"groupware.example.org.mobileconfig"')
    kinds = [p["PayloadType"] for p in load_profile(await response.read())["PayloadContent"]]
    assert kinds == [
        "com.apple.mail.managed",
        "com.apple.caldav.account",
        "com.apple.carddav.account",
    ]


async def test_head_answers_like_get_without_a_body(client):
    response = await client.head(PATHS[0], params={"email": "alice@example.com"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    assert await response.read() == b""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "Give ?emailaddress="),
        ({"emailaddress": ""}, "Give ?emailaddress="),
        ({"emailaddress": "alice"}, "no '@'"),
        ({"email": "@example.com"}, "no local part"),
        ({"email": "a,b@example.com"}, "quoting"),
        ({"email": "a@[192.0.2.1]"}, "address literals"),
        ({"email": "a@exa mple.com"}, "not a valid domain"),
        ({"email": "a\x00@example.com"}, "control characters"),
        ({"email": "x" * 65 + "@example.com"}, "local part is longer"),
    ],
)
async def test_a_missing_or_bad_address_is_a_400_that_says_why(client, query, message):
    response = await client.get(PATHS[0], params=query)
    assert response.status == 400
    assert response.content_type == "text/plain"
    assert message in await response.text()


async def test_an_unknown_domain_is_a_404_naming_it(client):
    response = await client.get(PATHS[0], params={"email": "a@unknown.example"})
    assert response.status == 404
    assert response.content_type == "text/plain"
    assert "unknown.example" in await response.text()


async def test_a_redirect_only_provider_is_a_404(varied_client):
    response = await varied_client.get(PATHS[0], params={"email": "a@redirect.example"})
    assert response.status == 404
    assert "no mail servers" in await response.text()


async def test_a_domain_redirect_still_gets_its_providers_servers_like_thunderbird(varied_client):
    """Redirects steer Autodiscover only; the provider of moved.example still has servers."""
    response = await varied_client.get(PATHS[0], params={"email": "carol@moved.example"})
    assert response.status == 200
    mail = load_profile(await response.read())["PayloadContent"][0]
    assert mail["IncomingMailServerHostName"] == "pop.moved.example"


async def test_a_provider_apple_cannot_sign_in_to_is_a_404_that_says_why(apple_client):
    response = await apple_client.get(PATHS[0], params={"email": "a@oauth-only.example"})
    assert response.status == 404
    assert "OAuth2" in await response.text()


async def test_other_methods_are_refused(client):
    response = await client.post(PATHS[0], params={"email": "alice@example.com"})
    assert response.status == 405


NASTY = [
    "a@b@example.com",
    "%ff%fe@example.com",
    "\u202e@example.com",
    "a@" + "x" * 300 + ".com",
    "a@xn--.example",
    "a@-.example",
    "a@example.com.",
    "a@.",
    '"\\\\"@example.com',
    "a@exämple.com",
    "\ue000uuid:profile\ue001@example.com",
    "<script>@example.com",
]


@pytest.mark.parametrize("value", NASTY)
async def test_no_address_makes_the_server_fail(client, value):
    for path in PATHS:
        response = await client.get(path, params={"email": value})
        assert response.status < 500
        if response.status == 200:
            load_profile(await response.read())


async def test_a_private_use_character_cannot_reach_a_template_slot(client):
    """The pre-rendered template marks slots with private-use characters; an address made of
    them is valid, and must come back as text, never be taken for a slot."""
    address = "\ue000address\ue001@example.com"
    response = await client.get(PATHS[0], params={"email": address})
    assert response.status == 200
    mail = load_profile(await response.read())["PayloadContent"][0]
    assert mail["EmailAddress"] == address


# --- signing ----------------------------------------------------------------------------------


@needs_openssl
async def test_a_signed_profile_verifies_to_a_trusted_root_and_carries_the_same_profile(
    signed_client, signing, tmp_path
):
    response = await signed_client.get(PATHS[0], params={"email": "alice@example.com"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    signed = await response.read()
    assert signed[:1] == b"\x30"  # DER SEQUENCE: a CMS message, not a plist
    unsigned = mobileconfig.render(
        provider(BUNDLED, "example.com"), parse_address("alice@example.com")
    )
    assert openssl_verify(signed, signing.root, tmp_path) == unsigned


@needs_openssl
async def test_signed_downloads_carry_byte_identical_profiles(signed_client, signing, tmp_path):
    """The envelope has a signing time; the profile inside, which the device installs, is the
    same every time."""
    contents = set()
    for _ in range(2):
        response = await signed_client.get(PATHS[1], params={"email": "alice@example.com"})
        contents.add(openssl_verify(await response.read(), signing.root, tmp_path))
    assert len(contents) == 1


async def test_errors_stay_plain_text_when_signing(signed_client):
    response = await signed_client.get(PATHS[0], params={"email": "a@unknown.example"})
    assert response.status == 404
    assert response.content_type == "text/plain"


@needs_openssl
def test_an_ec_key_in_the_same_file_as_its_chain_signs_too(tmp_path):
    files = make_signing_files(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    combined = tmp_path / "combined.pem"
    combined.write_bytes(files.chain.read_bytes() + files.key.read_bytes())
    signer = load_signer(combined)
    assert signer.chain == (files.intermediate,)
    content = b"<plist/>\n"
    assert openssl_verify(signer.sign(content), files.root, tmp_path) == content


def _setup_error(tmp_path: Path, **settings) -> str:
    with pytest.raises(SigningSetupError) as error:
        create_app(AppOptions(config_path=BUNDLED, **settings))
    return str(error.value)


def test_bad_signing_files_stop_the_app_at_creation_with_a_message(tmp_path, signing):
    missing = tmp_path / "missing.pem"
    message = _setup_error(tmp_path, profile_cert=missing, profile_key=signing.key)
    assert str(missing) in message and "cannot read" in message

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    message = _setup_error(tmp_path, profile_cert=garbage, profile_key=signing.key)
    assert str(garbage) in message and "no PEM certificate" in message

    message = _setup_error(tmp_path, profile_cert=signing.chain, profile_key=garbage)
    assert str(garbage) in message and "no PEM private key" in message

    message = _setup_error(tmp_path, profile_cert=signing.chain)
    assert "no PEM private key" in message  # no key file and none in the chain file

    message = _setup_error(tmp_path, profile_key=signing.key)
    assert "--profile-cert" in message


def test_an_encrypted_or_foreign_key_is_refused(tmp_path, signing):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(key_pem(key, b"secret"))
    message = _setup_error(tmp_path, profile_cert=signing.chain, profile_key=encrypted)
    assert "encrypted" in message

    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(key_pem(key))
    message = _setup_error(tmp_path, profile_cert=signing.chain, profile_key=foreign)
    assert "does not belong" in message and "autoconfig.example.com" in message

    reversed_chain = tmp_path / "reversed.pem"
    leaf, intermediate = signing.chain.read_text().split("-----END CERTIFICATE-----\n")[:2]
    reversed_chain.write_text(
        intermediate + "-----END CERTIFICATE-----\n" + leaf + "-----END CERTIFICATE-----\n"
    )
    message = _setup_error(tmp_path, profile_cert=reversed_chain, profile_key=signing.key)
    assert "must come first" in message


def test_a_key_type_cms_cannot_use_is_refused(tmp_path):
    files = make_signing_files(tmp_path / "ed", ed25519.Ed25519PrivateKey.generate())
    message = _setup_error(tmp_path, profile_cert=files.chain, profile_key=files.key)
    assert "use an RSA or EC key" in message


def test_an_expired_signing_certificate_is_reported_at_start(tmp_path, caplog):
    files = make_signing_files(tmp_path, days=-1)
    create_app(AppOptions(config_path=BUNDLED, profile_cert=files.chain, profile_key=files.key))
    assert "expired" in caplog.text


def test_serve_with_a_bad_certificate_exits_1_with_the_message(tmp_path, capsys):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("nope\n")
    argv = ["serve", "--config", str(VARIED), "--port", str(free_port())]
    assert main([*argv, "--no-watch", "--profile-cert", str(garbage)]) == 1
    error = capsys.readouterr().err
    assert "profile signing" in error and str(garbage) in error
    assert "Traceback" not in error


def test_render_apple_prints_the_served_profile(capsys):
    assert main(["render", "--config", str(BUNDLED), "apple", "alice@example.com"]) == 0
    printed = capsys.readouterr().out.encode()
    assert printed == mobileconfig.render(
        provider(BUNDLED, "example.com"), parse_address("alice@example.com")
    )
    assert main(["render", "--config", str(VARIED), "apple", "a@redirect.example"]) == 1
    assert "no mail servers" in capsys.readouterr().err
