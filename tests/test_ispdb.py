"""ISPDB import and export, checked against the XML files themselves.

Small files written for these tests (tests/data/ispdb/) cover one construct each; the real ISPDB
sample in ../shared shows that import, serve and fetch give clients the configuration of the
original file. Expected values are read from the XML with lxml and the rules of the README's
providers.yaml reference, never from the importer's output.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml
from lxml import etree

from autoconfig.config.diagnostics import ConfigInvalid
from autoconfig.config.loader import load_providers
from autoconfig.ispdb import export_losses, export_providers, import_files
from autoconfig.ispdb.importer import ImportResult
from autoconfig.model import Provider
from autoconfig.web.app import AppOptions, create_app

from .conftest import BUNDLED, DATA

FIXTURES = DATA / "ispdb"
SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ispdb-sample"
needs_sample = pytest.mark.skipif(
    not SAMPLE.is_dir(), reason=f"the real ISPDB sample is absent ({SAMPLE})"
)

NOT_IMPORTABLE = (
    "entity-expansion.xml",
    "exchange-only.xml",
    "external-entity.xml",
    "not-well-formed.xml",
    "wrong-root.xml",
)

# The providers.yaml reference (README): what a server may hold, and the defaults.
SERVER_TYPES = {"incomingServer": ("imap", "pop3"), "outgoingServer": ("smtp",)}
SOCKET_TYPES = ("SSL", "STARTTLS", "plain")
PASSWORD_AND_OTHERS = (
    "password-cleartext",
    "password-encrypted",
    "OAuth2",
    "NTLM",
    "GSSAPI",
    "TLS-client-cert",
)
METHODS = {
    "incomingServer": PASSWORD_AND_OTHERS,
    "outgoingServer": (*PASSWORD_AND_OTHERS, "none", "client-IP-address", "smtp-after-pop"),
}
ALIASES = {"plain": "password-cleartext", "secure": "password-encrypted"}
DEFAULT_PORTS = {
    ("imap", "SSL"): 993,
    ("imap", "STARTTLS"): 143,
    ("imap", "plain"): 143,
    ("pop3", "SSL"): 995,
    ("pop3", "STARTTLS"): 110,
    ("pop3", "plain"): 110,
    ("smtp", "SSL"): 465,
    ("smtp", "STARTTLS"): 587,
    ("smtp", "plain"): 587,
}
DEFAULT_USERNAME = "%EMAILADDRESS%"
KEPT_ELEMENTS = {
    "clientConfig",
    "emailProvider",
    "domain",
    "displayName",
    "displayShortName",
    "incomingServer",
    "outgoingServer",
    "hostname",
    "port",
    "socketType",
    "authentication",
    "username",
    "documentation",
    "descr",
    "webMail",
    "loginPage",
    "oAuth2",
    "issuer",
    "scope",
    "authURL",
    "tokenURL",
    "clientID",
}
"""Every ISPDB element providers.yaml has a place for; any other one must be noted."""


# --- reading the XML the way the README describes the import ---------------------------------


def parse(path: Path) -> etree._Element:
    """Our own fixtures and the sample only; the hostile fixtures are never parsed here."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    return etree.parse(str(path), parser).getroot()


def clean(text: str | None) -> str:
    return " ".join((text or "").split())


def domain_key(text: str) -> str:
    return clean(text).encode("idna").decode("ascii").lower()


def expected_server(element: etree._Element, tag: str) -> dict[str, object] | None:
    """One ISPDB server as providers.yaml can hold it, or None when it cannot at all."""
    server_type = element.get("type")
    if server_type not in SERVER_TYPES[tag]:
        return None
    socket = next(
        (clean(s.text) for s in element.findall("socketType") if clean(s.text) in SOCKET_TYPES),
        None,
    )
    methods: list[str] = []
    for auth in element.findall("authentication"):
        value = ALIASES.get(clean(auth.text), clean(auth.text))
        if not auth.attrib and value in METHODS[tag] and value not in methods:
            methods.append(value)
    if socket is None or not methods:
        return None
    port = element.findtext("port")
    username = element.findtext("username")
    return {
        "type": server_type,
        "hostname": clean(element.findtext("hostname")),
        "port": int(port) if port else DEFAULT_PORTS[(server_type, socket)],
        "socketType": socket,
        "authentication": methods,
        "username": clean(username) if username is not None else DEFAULT_USERNAME,
    }


def expected_servers(provider: etree._Element, tag: str, domain: str | None = None) -> list:
    servers = [expected_server(element, tag) for element in provider.findall(tag)]
    kept = [server for server in servers if server is not None]
    if domain is not None:
        for server in kept:
            server["hostname"] = server["hostname"].replace("%EMAILDOMAIN%", domain)
    return kept


def expected_documentation(provider: etree._Element) -> list:
    """Titles by language (first per language); one title without language only when alone."""
    result = []
    for page in provider.findall("documentation"):
        url = page.get("url", "")
        if not url.startswith(("http://", "https://")):
            continue
        tagged: dict[str, str] = {}
        untagged: list[str] = []
        for descr in page.findall("descr"):
            if descr.get("lang"):
                tagged.setdefault(descr.get("lang"), clean(descr.text))
            else:
                untagged.append(clean(descr.text))
        titles = list(tagged.items()) if tagged else [(None, untagged[0])] if untagged else []
        result.append((url, titles))
    return result


def expected_webmail(root: etree._Element) -> str | None:
    pages = [*root.findall("emailProvider/webMail/loginPage"), *root.findall("webMail/loginPage")]
    return pages[0].get("url") if pages else None


def expected_oauth2(root: etree._Element) -> dict[str, str] | None:
    block = root.find("oAuth2")
    if block is None:
        return None
    keys = ("issuer", "scope", "authURL", "tokenURL", "clientID")
    return {key: clean(block.findtext(key)) for key in keys if block.find(key) is not None}


def expected_names(provider: etree._Element) -> tuple[str, str | None]:
    display = clean(provider.findtext("displayName"))
    short = clean(provider.findtext("displayShortName")) or None
    if short is None or len(short) > 20:
        short = display if len(display) <= 20 else None
    return display, short


def xml_domains(provider: etree._Element) -> list[str]:
    """The provider's domains in order, each once (a valid domain name has no space)."""
    keys: list[str] = []
    for element in provider.findall("domain"):
        if " " not in clean(element.text) and domain_key(element.text) not in keys:
            keys.append(domain_key(element.text))
    return keys


# --- the same fields from what the import produced ---------------------------------------------


def model_servers(servers) -> list[dict[str, object]]:
    return [
        {
            "type": s.type,
            "hostname": s.hostname,
            "port": s.port,
            "socketType": s.socket_type.value,
            "authentication": [m.value for m in s.authentication],
            "username": s.username,
        }
        for s in servers
    ]


def model_oauth2(provider: Provider) -> dict[str, str] | None:
    settings = provider.oauth2
    if settings is None:
        return None
    fields = {
        "issuer": settings.issuer,
        "scope": settings.scope,
        "authURL": settings.auth_url,
        "tokenURL": settings.token_url,
    }
    return fields if settings.client_id is None else {**fields, "clientID": settings.client_id}


def served_servers(body: etree._Element, tag: str) -> list[dict[str, object]]:
    return [
        {
            "type": el.get("type"),
            "hostname": el.findtext("hostname"),
            "port": int(el.findtext("port")),
            "socketType": el.findtext("socketType"),
            "authentication": [a.text for a in el.findall("authentication")],
            "username": el.findtext("username"),
        }
        for el in body.findall(tag)
    ]


def line_of(root: etree._Element, xpath: str) -> int:
    (element,) = root.xpath(xpath)
    return element.sourceline


def notes_at(result: ImportResult, path: Path, line: int | None) -> list[str]:
    return [note.message for note in result.notes if note.file == str(path) and note.line == line]


def by_domain(providers, domain: str) -> Provider:
    (provider,) = [p for p in providers if domain in p.all_exact_domains]
    return provider


def write(result: ImportResult, directory: Path) -> Path:
    path = directory / "providers.yaml"
    path.write_text(result.yaml_text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[ImportResult, tuple[Provider, ...]]:
    """The whole fixture folder imported, written, and read back by the loader."""
    result = import_files([FIXTURES])
    path = write(result, tmp_path_factory.mktemp("import"))
    return result, load_providers(path)


# --- the fixture folder -----------------------------------------------------------------------


def test_folder_import_loads_and_skips_only_what_is_not_ispdb(folder) -> None:
    result, providers = folder
    assert sorted(Path(name).name for name in result.skipped) == sorted(NOT_IMPORTABLE)
    for name in NOT_IMPORTABLE:
        messages = [n.message for n in result.notes if n.file == str(FIXTURES / name)]
        assert any("skipped" in message for message in messages), name
    assert sorted(result.imported) == sorted(p.id for p in providers)
    assert len(set(result.imported)) == len(result.imported)
    served = {domain for p in providers for domain in p.all_exact_domains}
    assert "noext.example" in served, "an ISPDB file without .xml extension is read"
    assert not [n for n in result.notes if n.file.endswith("README")], "non-XML files are passed"
    assert result.yaml_text.startswith("#")
    header = result.yaml_text.split("providers:")[0]
    assert str(FIXTURES / "servers.xml") in header


def test_servers_keep_their_order_methods_and_usernames(folder) -> None:
    _, providers = folder
    root = parse(FIXTURES / "servers.xml")
    email_provider = root.find("emailProvider")
    provider = by_domain(providers, "servers.example")
    assert model_servers(provider.incoming) == expected_servers(email_provider, "incomingServer")
    assert model_servers(provider.outgoing) == expected_servers(email_provider, "outgoingServer")
    # The same facts, spelled out for the constructs of this file.
    first = email_provider.find("incomingServer")
    assert [m.value for m in provider.incoming[0].authentication] == [
        a.text for a in first.findall("authentication")
    ]
    assert provider.incoming[1].authentication[0].value == "password-cleartext"  # from "plain"
    assert provider.incoming[2].authentication[0].value == "password-encrypted"  # from "secure"
    assert provider.incoming[2].hostname == "%EMAILDOMAIN%"
    assert [m.value for m in provider.incoming[3].authentication] == ["OAuth2"]
    relay = provider.outgoing[1]
    assert [m.value for m in relay.authentication] == [
        "client-IP-address",
        "smtp-after-pop",
        "none",
    ]
    assert relay.username == DEFAULT_USERNAME
    assert provider.outgoing[2].port == DEFAULT_PORTS[("smtp", "plain")]


@pytest.mark.parametrize(
    ("xpath", "words"),
    [
        ("//incomingServer[@type='exchange']", ['type="exchange"']),
        ("//incomingServer[@type='ews']", ['type="ews"']),
        ("//authentication[@system='sasl']", ["SCRAM-SHA-256"]),
        ("//authentication[.='kerberos-v9']", ["kerberos-v9"]),
        ("//incomingServer/authentication[.='none']", ["none", "outgoing"]),
        ("//authentication[.='plain']", ["plain", "password-cleartext"]),
        ("//authentication[.='secure']", ["secure", "password-encrypted"]),
        ("//incomingServer[hostname='%EMAILDOMAIN%']/authentication[2]", ["twice"]),
        ("//socketType[.='TLS']", ["TLS"]),
        ("//incomingServer[socketType='TLS']", ["socketType"]),
        ("//pop3", ["<pop3>"]),
        ("//password", ["<password>"]),
        ("//addThisServer", ["<addThisServer>"]),
        ("//useGlobalPreferredServer", ["<useGlobalPreferredServer>"]),
        ("//restriction", ["<restriction>"]),
        ("//outgoingServer[not(username)]", ["username", DEFAULT_USERNAME]),
        ("//outgoingServer[not(port)]", ["port"]),
    ],
)
def test_servers_file_notes_every_change_at_its_line(folder, xpath: str, words: list[str]) -> None:
    result, _ = folder
    path = FIXTURES / "servers.xml"
    messages = notes_at(result, path, line_of(parse(path), xpath))
    assert any(all(word in m for word in words) for m in messages), messages


def test_password_from_a_file_is_never_written(folder) -> None:
    result, _ = folder
    secret = parse(FIXTURES / "servers.xml").findtext(".//password")
    assert secret not in result.yaml_text


def test_extras_keeps_domains_names_documentation_webmail_and_oauth2(folder) -> None:
    _, providers = folder
    root = parse(FIXTURES / "extras.xml")
    email_provider = root.find("emailProvider")
    provider = by_domain(providers, "extras.example")
    assert provider.id == email_provider.get("id")
    assert list(provider.exact_domains) == xml_domains(email_provider)
    assert "xn--bcher-kva.example" in provider.exact_domains
    display, short = expected_names(email_provider)
    assert (provider.display_name, provider.short_name) == (display, short)
    assert display == "Extras & Co"
    documentation = [(d.url, list(d.descriptions)) for d in provider.documentation]
    assert documentation == expected_documentation(email_provider)
    assert (None, "Settings without a language") in documentation[1][1]
    assert provider.webmail == expected_webmail(root)
    assert provider.webmail == email_provider.find("webMail/loginPage").get("url")
    assert model_oauth2(provider) == expected_oauth2(root)
    assert provider.oauth2.client_id == root.findtext("oAuth2/clientID")
    second = root.findall("emailProvider")[1]
    served = {domain for p in providers for domain in p.all_exact_domains}
    assert second.findtext("domain") not in served


@pytest.mark.parametrize(
    ("xpath", "words"),
    [
        ("//emailProvider[2]", ["<emailProvider>"]),
        ("//domain[@purpose]", ["purpose", "mx"]),
        ("//domain[.='EXTRAS.example']", ["EXTRAS.example", "line"]),
        ("//domain[.='not a domain']", ["not a domain"]),
        ("//documentation[1]/descr[3]", ["lang", "en"]),
        ("//documentation[2]/descr[2]", ["A second title without a language"]),
        ("//documentation[3]/descr[2]", ["Untagged title beside a tagged one"]),
        ("//documentation[starts-with(@url, 'ftp:')]", ["url"]),
        ("/clientConfig/webMail/loginPage", ["https://mail.extras.example/login"]),
        ("//loginPageInfo", ["<loginPageInfo>"]),
        ("//inputField", ["<inputField>"]),
        ("//enable", ["<enable>"]),
        ("//clientSecret", ["<clientSecret>"]),
        ("//clientConfigUpdate", ["<clientConfigUpdate>"]),
        ("//calendar", ["<calendar>"]),
    ],
)
def test_extras_file_notes_every_loss_at_its_line(folder, xpath: str, words: list[str]) -> None:
    result, _ = folder
    path = FIXTURES / "extras.xml"
    messages = notes_at(result, path, line_of(parse(path), xpath))
    assert any(all(word in m for word in words) for m in messages), messages


def test_client_secret_is_never_written(folder) -> None:
    result, _ = folder
    assert parse(FIXTURES / "extras.xml").findtext("oAuth2/clientSecret") not in result.yaml_text


def test_webmail_beside_the_provider_is_kept(folder) -> None:
    _, providers = folder
    root = parse(FIXTURES / "webmail-outside.xml")
    provider = by_domain(providers, "outside.example")
    assert root.find("emailProvider/webMail") is None
    assert provider.webmail == root.find("webMail/loginPage").get("url")
    assert model_servers(provider.incoming) == expected_servers(
        root.find("emailProvider"), "incomingServer"
    )


def test_too_long_short_name_is_reported_and_display_name_used(folder) -> None:
    result, providers = folder
    path = FIXTURES / "long-short-name.xml"
    email_provider = parse(path).find("emailProvider")
    provider = by_domain(providers, "shortname.example")
    assert len(email_provider.findtext("displayShortName")) > 20
    assert provider.short_name == email_provider.findtext("displayName")
    line = email_provider.find("displayShortName").sourceline
    assert any("20" in m for m in notes_at(result, path, line))


def test_two_long_names_keep_the_display_name_and_say_what_stands_in(folder) -> None:
    result, providers = folder
    path = FIXTURES / "long-names.xml"
    email_provider = parse(path).find("emailProvider")
    provider = by_domain(providers, "names.example")
    assert provider.display_name == email_provider.findtext("displayName")
    assert len(provider.short_name) <= 20
    assert provider.short_name not in email_provider.findtext("displayShortName")
    line = email_provider.find("displayName").sourceline
    assert any(repr(provider.short_name) in m for m in notes_at(result, path, line))


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_shared_domain_stays_with_the_file_read_first(tmp_path, order) -> None:
    paths = [FIXTURES / f"overlap-{name}.xml" for name in order]
    result = import_files(paths)
    providers = load_providers(write(result, tmp_path))
    first, second = (parse(path).find("emailProvider") for path in paths)
    owner = by_domain(providers, "shared.example")
    assert model_servers(owner.incoming) == expected_servers(first, "incomingServer")
    other = [p for p in providers if p is not owner]
    assert len(other) == 1
    assert model_servers(other[0].incoming) == expected_servers(second, "incomingServer")
    assert "shared.example" not in other[0].all_exact_domains
    assert other[0].id != owner.id
    line = line_of(second, "domain[.='shared.example']")
    first_line = line_of(first, "domain[.='shared.example']")
    assert any(
        f"{paths[0]}:{first_line}" in message for message in notes_at(result, paths[1], line)
    )
    id_line = second.sourceline
    assert any(str(paths[0]) in message for message in notes_at(result, paths[1], id_line))


def test_exchange_only_file_is_skipped_and_says_why(folder) -> None:
    result, _ = folder
    path = FIXTURES / "exchange-only.xml"
    root = parse(path)
    assert str(path) in result.skipped
    line = line_of(root, "//incomingServer[@type='exchange']")
    assert any("exchange" in m for m in notes_at(result, path, line))


def test_not_well_formed_file_is_reported_at_the_broken_line() -> None:
    path = FIXTURES / "not-well-formed.xml"
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = next(n for n, text in enumerate(lines, 1) if "</hostnme>" in text)
    result = import_files([path])
    assert result.imported == ()
    assert result.skipped == (str(path),)
    assert any("well-formed" in m for m in notes_at(result, path, broken))


def test_wrong_root_is_reported() -> None:
    path = FIXTURES / "wrong-root.xml"
    result = import_files([path])
    assert result.skipped == (str(path),)
    assert any("<html>" in note.message for note in result.notes)


@pytest.mark.parametrize("name", ["entity-expansion.xml", "external-entity.xml"])
def test_files_with_a_dtd_are_refused_without_expanding_anything(name: str) -> None:
    path = FIXTURES / name
    lines = path.read_text(encoding="utf-8").splitlines()
    doctype = next(n for n, text in enumerate(lines, 1) if text.startswith("<!DOCTYPE"))
    result = import_files([path])
    assert result.imported == ()
    assert result.skipped == (str(path),)
    assert any("DTD" in m for m in notes_at(result, path, doctype))
    assert "expanded" not in result.yaml_text
    assert "root:" not in result.yaml_text


def test_missing_path_is_reported_and_the_rest_imported(tmp_path) -> None:
    missing = tmp_path / "nowhere.xml"
    result = import_files([missing, FIXTURES / "webmail-outside.xml"])
    assert result.skipped == (str(missing),)
    assert [str(n) for n in result.notes if n.file == str(missing)]
    root = parse(FIXTURES / "webmail-outside.xml")
    assert result.imported == (root.find("emailProvider").get("id"),)


def test_note_reads_as_file_line_message(folder) -> None:
    result, _ = folder
    path = FIXTURES / "servers.xml"
    line = line_of(parse(path), "//pop3")
    (note,) = [n for n in result.notes if n.file == str(path) and n.line == line]
    assert str(note) == f"{path}:{line}: {note.message}"


# --- export and round trips -------------------------------------------------------------------


def test_export_of_the_bundled_file_lists_every_exact_domain(tmp_path) -> None:
    providers = load_providers(BUNDLED)
    written = export_providers(providers, tmp_path / "ispdb")
    source = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))["providers"]
    assert sorted(p.name for p in (tmp_path / "ispdb").iterdir()) == sorted(
        f"{entry['id']}.xml" for entry in source
    )
    assert [p.name for p in written] == [f"{entry['id']}.xml" for entry in source]
    for entry in source:
        root = etree.parse(str(tmp_path / "ispdb" / f"{entry['id']}.xml")).getroot()
        assert root.tag == "clientConfig"
        body = root.find("emailProvider")
        assert body.get("id") == entry["id"]
        names = [d if isinstance(d, str) else d["name"] for d in entry["domains"]]
        assert [d.text for d in body.findall("domain")] == [
            name for name in names if not name.startswith("*.")
        ]
        hostnames = [s["hostname"] for s in entry["incoming"] + entry["outgoing"]]
        assert [h.text for h in body.iter("hostname")] == hostnames
    losses = export_losses(providers)
    for entry in source:
        for name in entry["domains"]:
            if isinstance(name, str) and name.startswith("*."):
                assert any(name in loss for loss in losses)


def test_export_refuses_ids_that_would_leave_the_folder(tmp_path) -> None:
    (provider,) = [p for p in load_providers(BUNDLED) if p.id == "example.com"]
    sneaky = dataclasses.replace(provider, id="../x")
    with pytest.raises(ValueError):
        export_providers([sneaky], tmp_path / "out")
    assert not (tmp_path / "x.xml").exists()


def round_trip(source: Path, tmp_path: Path) -> None:
    first = import_files([source])
    providers = load_providers(write(first, tmp_path))
    export_providers(providers, tmp_path / "exported")
    second = import_files([tmp_path / "exported"])
    assert second.skipped == ()
    assert second.notes == (), "an exported file holds nothing the import cannot keep"
    (tmp_path / "again").mkdir()
    again = load_providers(write(second, tmp_path / "again"))
    assert {p.id: p for p in again} == {p.id: p for p in providers}


def test_round_trip_of_the_fixtures(tmp_path) -> None:
    round_trip(FIXTURES, tmp_path)


@needs_sample
def test_round_trip_of_the_real_sample(tmp_path) -> None:
    round_trip(SAMPLE, tmp_path)


# --- fidelity on the real ISPDB sample ----------------------------------------------------------


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLE.iterdir() if p.suffix == ".xml")


@needs_sample
def test_sample_notes_every_element_it_does_not_keep() -> None:
    result = import_files([SAMPLE])
    assert result.skipped == ()
    for path in sample_files():
        root = parse(path)
        for element in root.iter():
            parent = element.getparent()
            if element.tag in KEPT_ELEMENTS or parent is None or parent.tag not in KEPT_ELEMENTS:
                continue
            messages = notes_at(result, path, element.sourceline)
            assert any(f"<{element.tag}>" in m for m in messages), (path, element.tag)
        for server in root.iter("incomingServer", "outgoingServer"):
            if server.find("username") is None:
                messages = notes_at(result, path, server.sourceline)
                assert any("username" in m for m in messages), (path, server.sourceline)


@needs_sample
async def test_sample_served_as_the_original_files_say(aiohttp_client, tmp_path) -> None:
    result = import_files([SAMPLE])
    config = write(result, tmp_path)
    load_providers(config)
    client = await aiohttp_client(create_app(AppOptions(config_path=config)))
    owners: dict[str, Path] = {}
    for path in sample_files():
        for domain in xml_domains(parse(path).find("emailProvider")):
            owners.setdefault(domain, path)
    for domain, path in owners.items():
        root = parse(path)
        email_provider = root.find("emailProvider")
        response = await client.get(f"/mail/config-v1.1.xml?emailaddress=test@{domain}")
        assert response.status == 200, domain
        served = etree.fromstring(await response.read())
        body = served.find("emailProvider")
        where = f"{domain} from {path.name}"
        for tag in ("incomingServer", "outgoingServer"):
            expected = expected_servers(email_provider, tag, domain)
            assert served_servers(body, tag) == expected, where
        assert body.get("id") == email_provider.get("id").lower(), where
        display, short = expected_names(email_provider)
        assert body.findtext("displayName") == display, where
        assert body.findtext("displayShortName") == short, where
        owned = [d for d in xml_domains(email_provider) if owners[d] == path]
        assert [d.text for d in body.findall("domain")] == owned, where
        documentation = [
            (d.get("url"), [(x.get("lang"), x.text) for x in d.findall("descr")])
            for d in body.findall("documentation")
        ]
        assert documentation == expected_documentation(email_provider), where
        page = body.find("webMail/loginPage")
        assert (page.get("url") if page is not None else None) == expected_webmail(root), where
        block = served.find("oAuth2")
        oauth2 = {child.tag: child.text for child in block} if block is not None else None
        assert oauth2 == expected_oauth2(root), where


# --- one rule for the import and the loader -------------------------------------------------------

ONE_FILE = """\
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <displayName>{name}</displayName>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>{login}</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.org</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
    <documentation url="https://example.org/help"><descr lang="{lang}">Help</descr></documentation>
  </emailProvider>
</clientConfig>
"""
ONE_PROVIDER = """\
providers:
  - id: example.org
    displayName: {name}
    domains: [example.org]
    incoming:
      - {{type: imap, hostname: {host}, port: {port}, socketType: SSL, username: {login}}}
    outgoing:
      - {{hostname: smtp.example.org, port: 465, socketType: SSL}}
    documentation:
      - {{url: "https://example.org/help", descr: {{{lang}: Help}}}}
"""
FINE = {"name": "Example", "host": "imap.example.org", "port": "993", "login": "%EMAILADDRESS%"}


USABLE = {
    "lang": {
        "en": True,
        "pt-BR": True,
        "zh-Hant-TW": True,
        "EN": False,
        "e1": False,
        "english": False,
        "en-": False,
        "en_US": False,
    },
    "host": {
        "imap.%EMAILDOMAIN%": True,
        "%EMAILLOCALPART%.example.org": True,
        "192.0.2.1": True,
        "mail_x.example": False,
        "-bad.example": False,
        "%EMAILADDRESS%": False,
        "imap%.example": False,
    },
    "port": {"1": True, "65535": True, "0": False, "65536": False},
    "login": {"%EMAILLOCALPART%": True, "%USER%": False, "a%b": False},
    "name": {"Example Mail": True, "x" * 61: False, "Ex\ue000ample": False},
}


@pytest.mark.parametrize(
    ("field", "value", "usable"),
    [(field, value, usable) for field, cases in USABLE.items() for value, usable in cases.items()],
)
def test_the_import_keeps_exactly_what_the_loader_accepts(tmp_path, field, value, usable) -> None:
    """Host names, ports, login names, language codes and characters: one rule decides."""
    values = {**FINE, "lang": "en", field: value}
    source = tmp_path / "one.xml"
    escaped = {key: text.replace("&", "&amp;").replace("<", "&lt;") for key, text in values.items()}
    source.write_text(ONE_FILE.format(**escaped), encoding="utf-8")
    result = import_files([source])
    if not result.imported:
        kept = False
    else:
        (imported,) = yaml.safe_load(result.yaml_text)["providers"]
        kept = {
            "lang": value in str(imported.get("documentation")),
            "name": imported["displayName"] == value,
        }.get(field, True)
    quoted = {key: '"' + text + '"' for key, text in values.items() if key != "port"}
    try:
        load_providers_from_text(ONE_PROVIDER.format(**{**values, **quoted}), tmp_path)
    except ConfigInvalid:
        accepted = False
    else:
        accepted = True
    assert kept == accepted == usable, result.notes


def load_providers_from_text(text: str, folder: Path) -> tuple[Provider, ...]:
    path = folder / "providers.yaml"
    path.write_text(text, encoding="utf-8")
    return load_providers(path)
