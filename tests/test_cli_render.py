"""`autoconfig render`: the bytes the running app sends, or the 302 it answers, for every target.

Each case asks the real app (through the fast dispatch, as `serve` answers) and the real CLI
entry point the same question and compares what each gives.
"""

import re

import pytest

from autoconfig import cli
from autoconfig.formats import pacc
from autoconfig.web.app import AppOptions, create_app

from .conftest import BUNDLED, DATA, ROOT, VARIED
from .test_web_autodiscover import URL, pox
from .test_web_microsoft import mobilesync_request

ACTIVESYNC = DATA / "activesync.yaml"


def render(capfdbinary, *args: str) -> tuple[int, bytes, str]:
    status = cli.main(["render", *args])
    captured = capfdbinary.readouterr()
    return status, captured.out, captured.err.decode()


async def app_client(aiohttp_client, config, **options):
    return await aiohttp_client(create_app(AppOptions(config_path=config, **options)))


async def post(client, body: bytes):
    response = await client.post(
        URL, data=body, headers={"Content-Type": "text/xml"}, allow_redirects=False
    )
    return response.status, response.headers.get("Location"), await response.read()


@pytest.mark.parametrize(
    ("config", "target", "address", "request_body"),
    [
        (VARIED, "outlook", "bob@redirect.example", pox),
        (VARIED, "outlook", "bob@elsewhere.example", pox),
        (ACTIVESYNC, "mobilesync", "bob@away.sync.example", mobilesync_request),
    ],
)
async def test_a_redirect_url_is_said_as_the_302_the_server_answers(
    aiohttp_client, capfdbinary, config, target, address, request_body
):
    client = await app_client(aiohttp_client, config)
    status, location, _ = await post(client, request_body(address))
    assert status == 302

    code, out, err = render(capfdbinary, target, address, "--config", str(config))
    assert (code, out) == (cli.EXIT_REDIRECT, b"")
    assert err.strip() == f"HTTP 302 Location: {location}"
    assert "Redirect(" not in err


@pytest.mark.parametrize(
    ("config", "target", "address", "request_body"),
    [
        (VARIED, "outlook", "bob@moved.example", pox),
        (VARIED, "outlook", "alice@oauth.example", pox),
        (ACTIVESYNC, "mobilesync", "bob@moved.sync.example", mobilesync_request),
        (ACTIVESYNC, "mobilesync", "bob@sync.example", mobilesync_request),
        (ACTIVESYNC, "mobilesync", "bob@a.tenants.sync.example", mobilesync_request),
    ],
)
async def test_autodiscover_bodies_are_the_bytes_the_server_sends(
    aiohttp_client, capfdbinary, config, target, address, request_body
):
    client = await app_client(aiohttp_client, config)
    status, _, body = await post(client, request_body(address))
    assert status == 200

    code, out, err = render(capfdbinary, target, address, "--config", str(config))
    assert code == 0, err
    assert out == body


async def test_redirect_addr_is_printed_with_the_filled_in_address(capfdbinary):
    code, out, _ = render(capfdbinary, "outlook", "bob@moved.example", "--config", str(VARIED))
    assert code == 0
    assert b"<Action>redirectAddr</Action>" in out
    assert b"<RedirectAddr>bob@hoster.example</RedirectAddr>" in out


async def test_mobilesync_without_activesync_is_an_error_answer(aiohttp_client, capfdbinary):
    client = await app_client(aiohttp_client, ACTIVESYNC)
    _, _, body = await post(client, mobilesync_request("bob@nosync.example"))
    assert b"<Status>2</Status>" in body

    code, out, err = render(
        capfdbinary, "mobilesync", "bob@nosync.example", "--config", str(ACTIVESYNC)
    )
    assert (code, out) == (1, b"")
    assert "ActiveSync is not offered for nosync.example" in err


async def json_answer(client, address: str, protocol: str, host: str):
    response = await client.get(
        "/autodiscover/autodiscover.json",
        params={"Email": address, "Protocol": protocol},
        headers={"Host": host},
    )
    return response.status, await response.read()


@pytest.mark.parametrize(
    ("address", "protocol"),
    [
        ("bob@sync.example", "AutodiscoverV1"),
        ("bob@sync.example", "ActiveSync"),
        ("bob@a.tenants.sync.example", "autodiscoverv1"),
        ("bob@away.sync.example", "AutodiscoverV1"),
        ("bob@moved.sync.example", "AutodiscoverV1"),
    ],
)
async def test_autodiscover_json_is_what_outlook_gets_at_autodiscover_domain(
    aiohttp_client, capfdbinary, address, protocol
):
    client = await app_client(aiohttp_client, ACTIVESYNC)
    domain = address.split("@")[1]
    status, body = await json_answer(client, address, protocol, f"autodiscover.{domain}")
    assert status == 200

    code, out, err = render(
        capfdbinary,
        "autodiscover-json",
        address,
        "--protocol",
        protocol,
        "--config",
        str(ACTIVESYNC),
    )
    assert code == 0, err
    assert out == body


async def test_autodiscover_json_under_a_public_url(aiohttp_client, capfdbinary):
    client = await app_client(aiohttp_client, ACTIVESYNC, public_url="https://cfg.example.net")
    status, body = await json_answer(client, "bob@sync.example", "AutodiscoverV1", "x.example")
    assert status == 200
    assert b"https://cfg.example.net/autodiscover/autodiscover.xml" in body

    for given in ("https://cfg.example.net", "https://cfg.example.net/"):
        code, out, err = render(
            capfdbinary,
            "autodiscover-json",
            "bob@sync.example",
            "--public-url",
            given,
            "--config",
            str(ACTIVESYNC),
        )
        assert (code, out) == (0, body), err


@pytest.mark.parametrize(
    ("address", "protocol", "said"),
    [
        ("bob@nosync.example", "ActiveSync", "ActiveSync is not offered"),
        ("bob@away.sync.example", "ActiveSync", "ActiveSync is not offered"),
        ("bob@unknown.example", "AutodiscoverV1", "no provider serves unknown.example"),
    ],
)
async def test_autodiscover_json_errors_are_said_not_printed(
    aiohttp_client, capfdbinary, address, protocol, said
):
    client = await app_client(aiohttp_client, ACTIVESYNC)
    status, _ = await json_answer(client, address, protocol, "autodiscover.sync.example")
    assert status == 404

    code, out, err = render(
        capfdbinary,
        "autodiscover-json",
        address,
        "--protocol",
        protocol,
        "--config",
        str(ACTIVESYNC),
    )
    assert (code, out) == (1, b"")
    assert said in err


@pytest.mark.parametrize("given", ["example.com", "alice@example.com", "groupware.example.org"])
async def test_pacc_is_the_document_served_at_ua_auto_config(aiohttp_client, capfdbinary, given):
    client = await app_client(aiohttp_client, BUNDLED)
    domain = given.rpartition("@")[2]
    response = await client.get(pacc.PATH, headers={"Host": f"{pacc.HOST_PREFIX}{domain}"})
    assert response.status == 200

    code, out, err = render(capfdbinary, "pacc", given, "--config", str(BUNDLED))
    assert code == 0, err
    assert out == await response.read()


async def test_redirect_only_provider_has_no_pacc_or_thunderbird_document(
    aiohttp_client, capfdbinary
):
    client = await app_client(aiohttp_client, VARIED)
    response = await client.get(pacc.PATH, headers={"Host": "ua-auto-config.redirect.example"})
    assert response.status == 404
    for target in ("pacc", "thunderbird"):
        code, out, err = render(
            capfdbinary, target, "bob@redirect.example", "--config", str(VARIED)
        )
        assert (code, out) == (1, b"")
        assert "HTTP 404" in err and "redirect.example" in err


async def test_thunderbird_and_apple_still_print_the_served_bytes(aiohttp_client, capfdbinary):
    client = await app_client(aiohttp_client, VARIED)
    response = await client.get(
        "/mail/config-v1.1.xml", params={"emailaddress": "bob@moved.example"}
    )
    code, out, _ = render(capfdbinary, "thunderbird", "bob@moved.example", "--config", str(VARIED))
    assert (code, out) == (0, await response.read())

    response = await client.get("/email.mobileconfig", params={"emailaddress": "a@oauth.example"})
    assert response.status == 200
    code, out, _ = render(capfdbinary, "apple", "a@oauth.example", "--config", str(VARIED))
    assert (code, out) == (0, await response.read())


@pytest.mark.parametrize(
    "args",
    [
        ["outlook", "a@example.com", "--protocol", "ActiveSync"],
        ["thunderbird", "a@example.com", "--public-url", "https://cfg.example.net"],
        ["autodiscover-json", "a@example.com", "--public-url", "http://cfg.example.net"],
        ["pacc", "not a domain"],
        ["mobilesync", "a@"],
    ],
)
def test_misused_options_and_bad_input_exit_2_with_a_message(capfdbinary, args):
    code, out, err = render(capfdbinary, *args, "--config", str(BUNDLED))
    assert (code, out) == (2, b"")
    assert err.startswith("autoconfig: ")


def test_an_unknown_protocol_is_refused_by_name(capfdbinary):
    with pytest.raises(SystemExit) as exited:
        render(capfdbinary, "autodiscover-json", "a@example.com", "--protocol", "imap")
    assert exited.value.code == 2
    err = capfdbinary.readouterr().err.decode()
    assert "'imap' is not a protocol autodiscover.json serves (AutodiscoverV1, ActiveSync)" in err


def test_readme_lists_every_render_target_in_the_synopsis_and_the_text():
    targets = set(cli.RENDER_TARGETS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    synopsis = re.search(r"^autoconfig render .*\{([a-z,-]+)\}", readme, re.MULTILINE)
    assert synopsis and set(synopsis.group(1).split(",")) == targets
    text = re.search(r"^- `render ([a-z|-]+) ", readme, re.MULTILINE)
    assert text and set(text.group(1).split("|")) == targets
