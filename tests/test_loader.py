"""providers.yaml as an admin writes it: what loads, and every mistake located by line and path."""

from pathlib import Path
from textwrap import dedent, indent

import pytest

from autoconfig.config.diagnostics import CODES, ConfigInvalid, Severity
from autoconfig.config.loader import load_providers
from autoconfig.model import Authentication, SocketType

BUNDLED = Path(__file__).parent.parent / "providers.yaml"
FILE = "p.yaml"

# One valid provider; tests change one line of it and expect exactly that line to be blamed.
GOOD = dedent("""\
    providers:
      - id: a.example
        displayName: Provider A
        domains:
          - a.example
        incoming:
          - type: imap
            hostname: imap.a.example
            port: 993
            socketType: SSL
        outgoing:
          - hostname: smtp.a.example
            port: 465
            socketType: SSL
""")

# A second valid provider, to append to GOOD.
OTHER = indent(
    dedent("""\
        - id: b.example
          displayName: Provider B
          domains:
            - b.example
          incoming:
            - type: pop3
              hostname: pop.b.example
              socketType: SSL
          outgoing:
            - hostname: smtp.b.example
              socketType: STARTTLS
    """),
    "  ",
)


def swap(doc, old, new):
    """Replace a text that occurs exactly once, so a typo in a test cannot go unnoticed."""
    assert doc.count(old) == 1, f"{old!r} is not once in the document"
    return doc.replace(old, new)


def line_of(doc, needle):
    """The 1-based line of the document that contains needle (exactly one must)."""
    numbers = [n for n, line in enumerate(doc.splitlines(), start=1) if needle in line]
    assert len(numbers) == 1, f"{needle!r} is on lines {numbers}"
    return numbers[0]


def expect(messages, doc, needle, path, *words):
    """Assert an error `p.yaml:LINE: PATH: ...` with LINE the line of needle, holding words."""
    prefix = f"{FILE}:{line_of(doc, needle)}: {path}: "
    found = [m for m in messages if m.startswith(prefix) and all(w in m for w in words)]
    assert found, f"no error {prefix}... with {words} among:\n" + "\n".join(messages)


@pytest.fixture
def load(tmp_path, monkeypatch):
    """Write a providers file as p.yaml in an empty directory and load it."""
    monkeypatch.chdir(tmp_path)

    def _load(text):
        path = Path(FILE)
        path.write_text(text, encoding="utf-8")
        return load_providers(path)

    return _load


@pytest.fixture
def problems(load):
    """The error lines an admin sees for a file that must not load."""

    def _problems(text):
        with pytest.raises(ConfigInvalid) as info:
            load(text)
        messages = [str(error) for error in info.value.errors]
        assert str(info.value) == "\n".join(messages)
        for error in info.value.errors:
            assert error.severity is Severity.ERROR and error.code in CODES, error
        return messages

    return _problems


def _summary(server):
    return (server.type, server.hostname, server.port, server.socket_type)


# The bundled file


def test_bundled_file_loads_with_example_mail_first():
    providers = load_providers(BUNDLED)
    first = providers[0]
    assert first.id == "example.com"
    assert first.display_name == "Example Mail"
    assert [str(domain) for domain in first.domains] == ["example.com", "example.net"]
    assert [_summary(server) for server in first.incoming] == [
        ("imap", "imap.example.com", 993, SocketType.SSL),
        ("pop3", "pop.example.com", 995, SocketType.SSL),
    ]
    assert [_summary(server) for server in first.outgoing] == [
        ("smtp", "smtp.example.com", 465, SocketType.SSL),
        ("smtp", "smtp.example.com", 587, SocketType.STARTTLS),
    ]
    for server in first.incoming + first.outgoing:
        assert server.authentication == (Authentication.PASSWORD_CLEARTEXT,)
        assert server.username == "%EMAILADDRESS%"


def test_good_document_loads_as_written(load):
    (provider,) = load(GOOD)
    assert provider.id == "a.example"
    assert provider.display_name == "Provider A"
    assert provider.short_name == "Provider A"
    assert [str(domain) for domain in provider.domains] == ["a.example"]
    assert [_summary(server) for server in provider.incoming] == [
        ("imap", "imap.a.example", 993, SocketType.SSL)
    ]
    assert [_summary(server) for server in provider.outgoing] == [
        ("smtp", "smtp.a.example", 465, SocketType.SSL)
    ]
    assert provider.documentation == ()
    assert provider.webmail is None
    assert provider.redirect is None
    assert provider.has_settings


def test_providers_keep_their_order(load):
    providers = load(GOOD + OTHER)
    assert [provider.id for provider in providers] == ["a.example", "b.example"]


# All errors at once


def test_every_mistake_is_reported_at_once_with_its_own_line(problems):
    doc = dedent("""\
        providers:
          - id: a.example
            displayName: Provider A
            domains:
              - a.example
            incoming:
              - type: imap
                hostname: imap.a.example
                port: 70000
                socketType: SSL
            outgoing:
              - hostname: smtp.a.example
                port: 465
                socketType: ssl
          - id: b.example
            displayName: [Provider, B]
            domains:
              - b.example
            incoming:
              - type: pop3
                hostnme: pop.b.example
                socketType: SSL
            outgoing:
              - hostname: smtp.b.example
                socketType: STARTTLS
            webMail: ftp://webmail.b.example/
    """)
    messages = problems(doc)
    assert "p.yaml:9: providers[0].incoming[0].port: 70000 is not a port (1-65535)" in messages
    expect(messages, doc, "socketType: ssl", "providers[0].outgoing[0].socketType", "'SSL'")
    assert line_of(doc, "socketType: ssl") == 14
    expect(messages, doc, "displayName: [", "providers[1].displayName", "must be a string")
    assert line_of(doc, "displayName: [") == 16
    expect(messages, doc, "hostnme:", "providers[1].incoming[0].hostnme", "did you mean 'hostname'")
    assert line_of(doc, "hostnme:") == 21
    expect(messages, doc, "- type: pop3", "providers[1].incoming[0].hostname", "is missing")
    expect(messages, doc, "webMail:", "providers[1].webMail", "https://", "http://")
    assert line_of(doc, "webMail:") == 26
    assert len(messages) == 6, "\n".join(messages)


# Keys


def test_unknown_key_suggests_the_close_one(problems):
    doc = swap(GOOD, "hostname: imap.a.example", "hostnme: imap.a.example")
    messages = problems(doc)
    expect(
        messages,
        doc,
        "hostnme:",
        "providers[0].incoming[0].hostnme",
        "unknown key",
        "did you mean 'hostname'?",
    )
    expect(messages, doc, "- type: imap", "providers[0].incoming[0].hostname", "is missing")


def test_unknown_key_without_a_close_one_lists_the_allowed_keys(problems):
    doc = swap(
        GOOD, "    displayName: Provider A\n", "    displayName: Provider A\n    colour: red\n"
    )
    messages = problems(doc)
    expect(messages, doc, "colour:", "providers[0].colour", "unknown key", "displayName", "webMail")
    assert "did you mean" not in "\n".join(messages)


def test_misspelled_top_level_key(problems):
    doc = swap(GOOD, "providers:", "provider:")
    messages = problems(doc)
    expect(messages, doc, "provider:", "provider", "did you mean 'providers'?")
    expect(messages, doc, "provider:", "providers", "is missing")


def test_key_given_twice_names_the_first_line(problems):
    doc = swap(
        GOOD, "    displayName: Provider A\n", "    displayName: Provider A\n    displayName: B\n"
    )
    messages = problems(doc)
    first = line_of(doc, "displayName: Provider A")
    expect(
        messages,
        doc,
        "displayName: B",
        "providers[0].displayName",
        f"is given twice (first on line {first})",
    )
    assert len(messages) == 1


def test_server_key_given_twice(problems):
    doc = swap(GOOD, "        port: 993\n", "        port: 993\n        port: 143\n")
    messages = problems(doc)
    first = line_of(doc, "port: 993")
    expect(
        messages,
        doc,
        "port: 143",
        "providers[0].incoming[0].port",
        f"given twice (first on line {first})",
    )


# Types


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("port: 993", 'port: "993"', "providers[0].incoming[0].port", ("whole number", "'993'")),
        ("port: 993", "port: true", "providers[0].incoming[0].port", ("whole number", "true")),
        ("port: 993", "port: 993.0", "providers[0].incoming[0].port", ("whole number",)),
        ("port: 993", "port: null", "providers[0].incoming[0].port", ("whole number", "empty")),
        (
            "displayName: Provider A",
            "displayName: [Provider, A]",
            "providers[0].displayName",
            ("must be a string", "list"),
        ),
        ("displayName: Provider A", "displayName: 42", "providers[0].displayName", ("string",)),
        (
            "domains:\n      - a.example",
            "domains: a.example",
            "providers[0].domains",
            ("must be a list", "'a.example'"),
        ),
        (
            "socketType: SSL\n    outgoing",
            "socketType: [SSL]\n    outgoing",
            "providers[0].incoming[0].socketType",
            ("must be a string", "list"),
        ),
    ],
)
def test_values_of_the_wrong_type_are_rejected(problems, old, new, path, words):
    doc = swap(GOOD, old, new)
    messages = problems(doc)
    expect(messages, doc, new.splitlines()[0], path, *words)
    assert len(messages) == 1, "\n".join(messages)


def test_server_list_written_as_a_mapping(problems):
    doc = swap(
        GOOD,
        "      - type: imap\n        hostname: imap.a.example\n        port: 993\n",
        "      type: imap\n      hostname: imap.a.example\n",
    )
    doc = swap(doc, "        socketType: SSL\n    outgoing", "      socketType: SSL\n    outgoing")
    messages = problems(doc)
    # The mapping that should have been a list starts on the line of its first key.
    expect(messages, doc, "type: imap", "providers[0].incoming", "must be a list", "mapping")


def test_provider_that_is_not_a_mapping(problems):
    doc = GOOD + "  - just a name\n"
    messages = problems(doc)
    expect(messages, doc, "- just a name", "providers[1]", "must be a mapping")


# Servers


def test_empty_incoming_list(problems):
    doc = dedent("""\
        providers:
          - id: a.example
            displayName: Provider A
            domains: [a.example]
            incoming: []
            outgoing:
              - hostname: smtp.a.example
                socketType: SSL
    """)
    messages = problems(doc)
    expect(messages, doc, "incoming: []", "providers[0].incoming", "is empty")
    assert len(messages) == 1, "\n".join(messages)


def test_missing_outgoing(problems):
    doc = GOOD.split("    outgoing:")[0]
    messages = problems(doc)
    expect(messages, doc, "- id: a.example", "providers[0].outgoing", "is missing")
    assert len(messages) == 1, "\n".join(messages)


def test_missing_incoming_and_outgoing_are_both_reported(problems):
    doc = GOOD.split("    incoming:")[0]
    messages = problems(doc)
    expect(messages, doc, "- id: a.example", "providers[0].incoming", "is missing")
    expect(messages, doc, "- id: a.example", "providers[0].outgoing", "is missing")
    assert len(messages) == 2, "\n".join(messages)


@pytest.mark.parametrize(
    ("old", "new", "entry", "path", "words"),
    [
        (
            "  - id: a.example\n    displayName",
            "  - displayName",
            "- displayName:",
            "providers[0].id",
            (),
        ),
        ("    displayName: Provider A\n", "", "- id: a.example", "providers[0].displayName", ()),
        ("    domains:\n      - a.example\n", "", "- id: a.example", "providers[0].domains", ()),
        (
            "        hostname: imap.a.example\n",
            "",
            "- type: imap",
            "providers[0].incoming[0].hostname",
            (),
        ),
        (
            "        port: 993\n        socketType: SSL\n",
            "        port: 993\n",
            "- type: imap",
            "providers[0].incoming[0].socketType",
            ("SSL", "STARTTLS", "plain"),
        ),
        (
            "      - type: imap\n        hostname",
            "      - hostname",
            "- hostname: imap.a.example",
            "providers[0].incoming[0].type",
            ("imap", "pop3"),
        ),
    ],
)
def test_missing_required_fields(problems, old, new, entry, path, words):
    doc = swap(GOOD, old, new)
    messages = problems(doc)
    expect(messages, doc, entry, path, "is missing", *words)
    assert len(messages) == 1, "\n".join(messages)


def test_outgoing_type_defaults_to_smtp(load):
    (provider,) = load(GOOD)
    assert provider.outgoing[0].type == "smtp"


def test_outgoing_server_must_be_smtp(problems):
    doc = swap(
        GOOD,
        "      - hostname: smtp.a.example",
        "      - type: pop3\n        hostname: smtp.a.example",
    )
    messages = problems(doc)
    expect(messages, doc, "- type: pop3", "providers[0].outgoing[0].type", "'pop3'", "smtp")


@pytest.mark.parametrize("hostname", ["mail..example.com", "-bad.example", "mail_server.example"])
def test_invalid_host_names_are_rejected(problems, hostname):
    doc = swap(GOOD, "hostname: imap.a.example", f"hostname: {hostname}")
    messages = problems(doc)
    expect(
        messages,
        doc,
        f"hostname: {hostname}",
        "providers[0].incoming[0].hostname",
        f"'{hostname}' is not a valid host name",
    )


def test_host_names_are_stored_in_lower_case(load):
    (provider,) = load(swap(GOOD, "hostname: imap.a.example", "hostname: IMAP.A.Example"))
    assert provider.incoming[0].hostname == "imap.a.example"


@pytest.mark.parametrize("port", [0, 70000, 65536, -1])
def test_port_out_of_range(problems, port):
    doc = swap(GOOD, "port: 993", f"port: {port}")
    line = line_of(doc, f"port: {port}")
    messages = problems(doc)
    expected = f"p.yaml:{line}: providers[0].incoming[0].port: {port} is not a port (1-65535)"
    assert expected in messages


@pytest.mark.parametrize("port", [1, 65535, 10143])
def test_any_port_in_range_is_kept(load, port):
    (provider,) = load(swap(GOOD, "port: 993", f"port: {port}"))
    assert provider.incoming[0].port == port


def test_socket_type_in_the_wrong_case_says_how_to_spell_it(problems):
    doc = swap(GOOD, "port: 993\n        socketType: SSL", "port: 993\n        socketType: ssl")
    messages = problems(doc)
    expect(
        messages,
        doc,
        "socketType: ssl",
        "providers[0].incoming[0].socketType",
        "'ssl' must be spelled 'SSL'",
    )


def test_socket_type_that_does_not_exist(problems):
    doc = swap(GOOD, "port: 465\n        socketType: SSL", "port: 465\n        socketType: TLS")
    messages = problems(doc)
    expect(
        messages,
        doc,
        "socketType: TLS",
        "providers[0].outgoing[0].socketType",
        "'TLS' is not a socket type",
        "STARTTLS",
    )


@pytest.mark.parametrize(
    ("server_type", "socket_type", "port"),
    [
        ("imap", "SSL", 993),
        ("imap", "STARTTLS", 143),
        ("pop3", "SSL", 995),
        ("pop3", "STARTTLS", 110),
    ],
)
def test_incoming_port_defaults_to_the_standard_one(load, server_type, socket_type, port):
    doc = dedent(f"""\
        providers:
          - id: a.example
            displayName: Provider A
            domains: [a.example]
            incoming:
              - type: {server_type}
                hostname: mail.a.example
                socketType: {socket_type}
            outgoing:
              - hostname: smtp.a.example
                port: 10465
                socketType: SSL
    """)
    (provider,) = load(doc)
    assert _summary(provider.incoming[0]) == (
        server_type,
        "mail.a.example",
        port,
        SocketType(socket_type),
    )


@pytest.mark.parametrize(("socket_type", "port"), [("SSL", 465), ("STARTTLS", 587)])
def test_outgoing_port_defaults_to_the_standard_one(load, socket_type, port):
    doc = dedent(f"""\
        providers:
          - id: a.example
            displayName: Provider A
            domains: [a.example]
            incoming:
              - type: imap
                hostname: imap.a.example
                port: 10993
                socketType: SSL
            outgoing:
              - hostname: smtp.a.example
                socketType: {socket_type}
    """)
    (provider,) = load(doc)
    assert _summary(provider.outgoing[0]) == (
        "smtp",
        "smtp.a.example",
        port,
        SocketType(socket_type),
    )


# Authentication and user names


def with_incoming(line):
    """GOOD with one more line in its incoming server."""
    return swap(GOOD, "        port: 993\n", f"        port: 993\n        {line}\n")


def with_outgoing(line):
    """GOOD with one more line in its outgoing server."""
    return swap(GOOD, "        port: 465\n", f"        port: 465\n        {line}\n")


def test_default_user_name_and_authentication(load):
    (provider,) = load(GOOD)
    for server in provider.incoming + provider.outgoing:
        assert server.username == "%EMAILADDRESS%"
        assert server.authentication == (Authentication.PASSWORD_CLEARTEXT,)
        assert server.sends_credentials


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("authentication: kerberos", ("'kerberos' is not an authentication method",)),
        ("authentication: oauth2", ("'oauth2' must be spelled 'OAuth2'",)),
        ("authentication: Password-Cleartext", ("must be spelled 'password-cleartext'",)),
        ("authentication: none", ("none", "only possible for outgoing")),
        ("authentication: client-IP-address", ("client-IP-address", "outgoing")),
        ("authentication: []", ("is empty",)),
    ],
)
def test_bad_incoming_authentication(problems, line, words):
    doc = with_incoming(line)
    messages = problems(doc)
    expect(messages, doc, line, "providers[0].incoming[0].authentication", *words)


def test_method_listed_twice(problems):
    doc = with_incoming("authentication: [password-cleartext, password-cleartext]")
    messages = problems(doc)
    expect(
        messages,
        doc,
        "authentication: [",
        "providers[0].incoming[0].authentication[1]",
        "listed twice",
    )


def test_outgoing_server_may_take_no_credentials(load):
    (provider,) = load(with_outgoing("authentication: none"))
    assert provider.outgoing[0].authentication == (Authentication.NONE,)
    assert not provider.outgoing[0].sends_credentials


@pytest.mark.parametrize(
    "line",
    [
        "authentication: OAuth2",
        "authentication: [OAuth2]",
        "authentication: [password-cleartext, OAuth2]",
        "authentication: [OAuth2, GSSAPI]",
    ],
)
def test_oauth2_without_a_password_method_after_it_loads(load, line):
    """Real providers (ISPDB hotmail.com) offer OAuth2 only; `check` warns (tests/test_lint.py)."""
    (provider,) = load(with_incoming(line))
    assert Authentication.OAUTH2 in provider.incoming[0].authentication


@pytest.mark.parametrize(
    ("line", "methods"),
    [
        (
            "authentication: [OAuth2, password-cleartext]",
            (Authentication.OAUTH2, Authentication.PASSWORD_CLEARTEXT),
        ),
        (
            "authentication: [OAuth2, GSSAPI, password-encrypted]",
            (Authentication.OAUTH2, Authentication.GSSAPI, Authentication.PASSWORD_ENCRYPTED),
        ),
    ],
)
def test_oauth2_followed_by_a_password_method_is_kept_in_order(load, line, methods):
    (provider,) = load(with_incoming(line))
    assert provider.incoming[0].authentication == methods


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('username: "%EMAIL%"', ("%EMAIL%", "not a placeholder")),
        ('username: "user%"', ("lone '%'",)),
        ('username: "%emailaddress%"', ("%emailaddress%", "not a placeholder")),
    ],
)
def test_bad_placeholders_in_user_names(problems, line, words):
    doc = with_incoming(line)
    messages = problems(doc)
    expect(messages, doc, line, "providers[0].incoming[0].username", *words)


def test_user_name_templates_are_kept(load):
    (provider,) = load(with_incoming('username: "%EMAILLOCALPART%"'))
    assert provider.incoming[0].username == "%EMAILLOCALPART%"
    (provider,) = load(with_incoming("username: shared-login"))
    assert provider.incoming[0].username == "shared-login"


def test_whole_address_is_rejected_in_a_host_name(problems):
    doc = swap(GOOD, "hostname: imap.a.example", 'hostname: "mail.%EMAILADDRESS%"')
    messages = problems(doc)
    expect(
        messages,
        doc,
        "%EMAILADDRESS%",
        "providers[0].incoming[0].hostname",
        "%EMAILADDRESS% is not a placeholder here",
    )


def test_host_name_may_be_built_from_the_domain(load):
    (provider,) = load(swap(GOOD, "hostname: imap.a.example", 'hostname: "mail.%EMAILDOMAIN%"'))
    assert provider.incoming[0].hostname == "mail.%EMAILDOMAIN%"


def test_host_name_template_must_still_make_a_host_name(problems):
    doc = swap(GOOD, "hostname: imap.a.example", 'hostname: "mail..%EMAILDOMAIN%"')
    messages = problems(doc)
    expect(messages, doc, "%EMAILDOMAIN%", "providers[0].incoming[0].hostname", "host name")


# Domains and ids


def test_domain_listed_by_two_providers_names_the_first_place(problems):
    doc = GOOD + swap(OTHER, "      - b.example", "      - A.Example")
    messages = problems(doc)
    first = line_of(doc, "- a.example")
    expect(
        messages,
        doc,
        "- A.Example",
        "providers[1].domains[0]",
        f"a.example is already listed at providers[0].domains[0] (line {first})",
    )
    assert len(messages) == 1, "\n".join(messages)


def test_domain_listed_twice_by_one_provider(problems):
    doc = swap(
        GOOD,
        "      - a.example\n",
        "      - a.example\n      - www.a.example\n      - A.EXAMPLE.\n",
    )
    messages = problems(doc)
    first = line_of(doc, "- a.example")
    expect(
        messages,
        doc,
        "- A.EXAMPLE.",
        "providers[0].domains[2]",
        f"already listed at providers[0].domains[0] (line {first})",
    )


def test_unicode_and_a_label_spellings_of_one_domain_are_duplicates(problems):
    doc = swap(
        GOOD, "      - a.example\n", "      - bücher.example\n      - xn--bcher-kva.example\n"
    )
    messages = problems(doc)
    expect(
        messages,
        doc,
        "- xn--bcher-kva.example",
        "providers[0].domains[1]",
        f"already listed at providers[0].domains[0] (line {line_of(doc, '- bücher')})",
    )


def test_provider_id_given_twice(problems):
    doc = GOOD + swap(OTHER, "- id: b.example", "- id: A.Example")
    messages = problems(doc)
    expect(
        messages,
        doc,
        "- id: A.Example",
        "providers[1].id",
        "'a.example' is already the id of providers[0]",
    )
    assert len(messages) == 1, "\n".join(messages)


def test_provider_id_must_look_like_a_host_name(problems):
    doc = swap(GOOD, "- id: a.example", "- id: Provider A")
    messages = problems(doc)
    expect(messages, doc, "- id: Provider A", "providers[0].id", "'Provider A'", "host name")


def test_domains_are_stored_as_lower_case_a_labels(load):
    doc = swap(
        GOOD,
        "      - a.example\n",
        '      - bücher.example\n      - EXAMPLE.ORG\n      - "*.Customers.example.org"\n',
    )
    (provider,) = load(doc)
    assert [(domain.name, domain.wildcard) for domain in provider.domains] == [
        ("xn--bcher-kva.example", False),
        ("example.org", False),
        ("customers.example.org", True),
    ]
    assert [str(domain) for domain in provider.domains] == [
        "xn--bcher-kva.example",
        "example.org",
        "*.customers.example.org",
    ]
    assert provider.exact_domains == ("xn--bcher-kva.example", "example.org")


@pytest.mark.parametrize("name", ["foo.*.example.org", "*.*.example.org", "*example.org"])
def test_wildcard_only_at_the_start(problems, name):
    doc = swap(GOOD, "      - a.example\n", f'      - "{name}"\n')
    messages = problems(doc)
    expect(messages, doc, name, "providers[0].domains[0]", name)
    assert len(messages) == 1, "\n".join(messages)


def test_misplaced_wildcard_is_explained(problems):
    doc = swap(GOOD, "      - a.example\n", '      - "foo.*.example.org"\n')
    messages = problems(doc)
    expect(messages, doc, "foo.*", "providers[0].domains[0]", "wildcard")


def test_domains_must_not_be_empty(problems):
    doc = swap(GOOD, "    domains:\n      - a.example\n", "    domains: []\n")
    messages = problems(doc)
    expect(messages, doc, "domains: []", "providers[0].domains", "is empty")


# Names


def test_display_name_over_60_characters(problems):
    name = "N" * 61
    doc = swap(
        GOOD,
        "    displayName: Provider A\n",
        f"    displayName: {name}\n    displayShortName: Short\n",
    )
    messages = problems(doc)
    expect(messages, doc, name, "providers[0].displayName", "61 characters", "60")
    assert len(messages) == 1, "\n".join(messages)


def test_display_name_of_60_characters_with_a_short_name(load):
    name = "N" * 60
    doc = swap(
        GOOD,
        "    displayName: Provider A\n",
        f"    displayName: {name}\n    displayShortName: Short\n",
    )
    (provider,) = load(doc)
    assert provider.display_name == name
    assert provider.short_name == "Short"


def test_long_display_name_needs_a_short_name(problems):
    doc = swap(GOOD, "displayName: Provider A", "displayName: Provider A of Examples")
    messages = problems(doc)
    expect(messages, doc, "- id: a.example", "providers[0].displayShortName", "is needed", "20")


def test_display_name_of_20_characters_is_its_own_short_name(load):
    name = "Provider A Examples!"
    assert len(name) == 20
    (provider,) = load(swap(GOOD, "displayName: Provider A", f"displayName: {name}"))
    assert provider.short_name == name


def test_short_name_over_20_characters(problems):
    doc = swap(
        GOOD,
        "    displayName: Provider A\n",
        "    displayName: Provider A\n    displayShortName: Provider A Examples!!\n",
    )
    messages = problems(doc)
    expect(messages, doc, "displayShortName:", "providers[0].displayShortName", "21 characters")


@pytest.mark.parametrize("value", ['"Provider\\tA"', '"Provider\\aA"', '"Provider\\x1bA"', '"\\0"'])
def test_control_characters_in_display_name(problems, value):
    doc = swap(GOOD, "displayName: Provider A", f"displayName: {value}")
    messages = problems(doc)
    expect(messages, doc, "displayName:", "providers[0].displayName", "control")


@pytest.mark.parametrize("value", ['""', '"   "'])
def test_empty_display_name(problems, value):
    doc = swap(GOOD, "displayName: Provider A", f"displayName: {value}")
    messages = problems(doc)
    expect(messages, doc, "displayName:", "providers[0].displayName", "empty")


def test_raw_control_character_is_reported_with_its_line(problems):
    doc = swap(GOOD, "displayName: Provider A", "displayName: Provider\x07A")
    messages = problems(doc)
    assert any(m.startswith(f"p.yaml:{line_of(doc, 'displayName:')}: ") for m in messages)


# Redirects


def test_redirect_url_must_be_https(problems):
    doc = GOOD + "    redirectUrl: http://autodiscover.elsewhere.example/\n"
    messages = problems(doc)
    expect(messages, doc, "redirectUrl:", "providers[0].redirectUrl", "https://")


def test_redirect_url_and_address_together_are_rejected(problems):
    doc = (
        GOOD
        + "    redirectUrl: https://autodiscover.elsewhere.example/\n"
        + "    redirectAddr: joe@elsewhere.example\n"
    )
    messages = problems(doc)
    expect(
        messages,
        doc,
        "redirectAddr:",
        "providers[0].redirectAddr",
        "cannot be combined with redirectUrl",
    )


REDIRECT_ONLY = dedent("""\
    providers:
      - id: moved.example
        displayName: Moved
        domains: [moved.example]
        redirectUrl: https://autodiscover.elsewhere.example/Autodiscover.xml
""")


def test_provider_with_only_a_redirect_url_needs_no_servers(load):
    (provider,) = load(REDIRECT_ONLY)
    assert provider.redirect.url == "https://autodiscover.elsewhere.example/Autodiscover.xml"
    assert provider.redirect.address is None
    assert provider.incoming == ()
    assert provider.outgoing == ()
    assert not provider.has_settings


def test_provider_with_only_a_redirect_address(load):
    doc = swap(
        REDIRECT_ONLY,
        "redirectUrl: https://autodiscover.elsewhere.example/Autodiscover.xml",
        'redirectAddr: "%EMAILLOCALPART%@elsewhere.example"',
    )
    (provider,) = load(doc)
    assert provider.redirect.address == "%EMAILLOCALPART%@elsewhere.example"
    assert provider.redirect.url is None


def test_redirect_provider_with_only_incoming_servers(problems):
    doc = REDIRECT_ONLY + indent(
        dedent("""\
            incoming:
              - type: imap
                hostname: imap.moved.example
                socketType: SSL
        """),
        "    ",
    )
    messages = problems(doc)
    expect(messages, doc, "- id: moved.example", "providers[0].outgoing", "is needed too")


def test_bad_redirect_url_is_the_only_error(problems):
    doc = swap(REDIRECT_ONLY, "https://autodiscover", "http://autodiscover")
    messages = problems(doc)
    expect(messages, doc, "redirectUrl:", "providers[0].redirectUrl", "https://")
    assert len(messages) == 1, "\n".join(messages)


def test_domain_written_as_mapping_with_a_redirect_address(load):
    doc = swap(
        GOOD,
        "      - a.example\n",
        "      - a.example\n"
        "      - name: old.example\n"
        '        redirectAddr: "%EMAILLOCALPART%@a.example"\n',
    )
    (provider,) = load(doc)
    old = provider.domains[1]
    assert old.name == "old.example"
    assert not old.wildcard
    assert old.redirect.address == "%EMAILLOCALPART%@a.example"
    assert provider.domains[0].redirect is None


def test_domain_written_as_mapping_needs_a_redirect(problems):
    doc = swap(GOOD, "      - a.example\n", "      - name: a.example\n")
    messages = problems(doc)
    expect(messages, doc, "- name: a.example", "providers[0].domains[0]", "needs a redirect")


def test_redirect_address_must_be_an_address(problems):
    doc = swap(
        GOOD,
        "      - a.example\n",
        "      - a.example\n      - name: old.example\n        redirectAddr: nobody\n",
    )
    messages = problems(doc)
    expect(
        messages, doc, "redirectAddr: nobody", "providers[0].domains[1].redirectAddr", "'nobody'"
    )


# Documentation and webmail


DOCUMENTED = GOOD + indent(
    dedent("""\
        documentation:
          - url: https://a.example/help/mail
            descr:
              en: Setting up your mail client
              fr: Configurer votre messagerie
        webMail: https://webmail.a.example/
"""),
    "    ",
)


def test_documentation_has_a_title_per_language(load):
    (provider,) = load(DOCUMENTED)
    (page,) = provider.documentation
    assert page.url == "https://a.example/help/mail"
    assert page.descriptions == (
        ("en", "Setting up your mail client"),
        ("fr", "Configurer votre messagerie"),
    )
    assert provider.webmail == "https://webmail.a.example/"


@pytest.mark.parametrize("language", ["english", "EN", "e1"])
def test_documentation_language_must_be_a_language_code(problems, language):
    doc = swap(DOCUMENTED, "          en: Setting", f"          {language}: Setting")
    messages = problems(doc)
    expect(
        messages,
        doc,
        f"{language}: Setting",
        f"providers[0].documentation[0].descr.{language}",
        "not a language code",
    )


def test_documentation_language_given_twice(problems):
    doc = swap(DOCUMENTED, "          fr: Configurer", "          en: Configurer")
    messages = problems(doc)
    expect(messages, doc, "en: Configurer", "providers[0].documentation[0].descr.en", "twice")


def test_documentation_url_must_be_a_web_address(problems):
    doc = swap(DOCUMENTED, "url: https://a.example/help/mail", "url: a.example/help/mail")
    messages = problems(doc)
    expect(messages, doc, "url: a.example", "providers[0].documentation[0].url", "http")


@pytest.mark.parametrize(
    "url",
    ["ftp://webmail.a.example/", "webmail.a.example", "https://web mail.a.example/", "https://"],
)
def test_webmail_must_be_a_http_url(problems, url):
    doc = swap(DOCUMENTED, "webMail: https://webmail.a.example/", f'webMail: "{url}"')
    messages = problems(doc)
    expect(messages, doc, "webMail:", "providers[0].webMail", repr(url))


def test_webmail_may_be_plain_http(load):
    doc = swap(DOCUMENTED, "webMail: https://", "webMail: http://")
    (provider,) = load(doc)
    assert provider.webmail == "http://webmail.a.example/"


# The file as a whole


def test_yaml_syntax_error_is_reported_with_its_line(problems):
    doc = swap(GOOD, "hostname: imap.a.example", "hostname: imap: a.example")
    messages = problems(doc)
    assert len(messages) == 1
    assert messages[0].startswith(f"p.yaml:{line_of(doc, 'imap: a.example')}: not valid YAML")


def test_tab_indentation_is_reported_with_its_line(problems):
    doc = swap(GOOD, "        socketType: SSL\n    outgoing", "\tsocketType: SSL\n    outgoing")
    messages = problems(doc)
    assert len(messages) == 1
    assert messages[0].startswith(f"p.yaml:{line_of(doc, chr(9))}: not valid YAML")


def test_unclosed_quote_is_reported_where_it_opens(problems):
    doc = swap(GOOD, "displayName: Provider A", 'displayName: "Provider A')
    messages = problems(doc)
    assert messages[0].startswith(f"p.yaml:{line_of(doc, 'displayName')}: not valid YAML")


@pytest.mark.parametrize("value", ["!port 993", "!!int abc", "!!binary zz"])
def test_bad_yaml_tag_is_reported_with_its_line(problems, value):
    doc = swap(GOOD, "port: 993", f"port: {value}")
    messages = problems(doc)
    expect(messages, doc, f"port: {value}", "providers[0].incoming[0].port")


@pytest.mark.parametrize("text", ["", "\n", "# nothing here yet\n"])
def test_empty_file(problems, text):
    messages = problems(text)
    assert len(messages) == 1
    assert messages[0].startswith("p.yaml")
    assert "empty" in messages[0]


def test_top_level_list_instead_of_providers_mapping(problems):
    doc = "\n".join(line[2:] for line in GOOD.splitlines()[1:]) + "\n"
    assert doc.startswith("- id: a.example")
    messages = problems(doc)
    assert len(messages) == 1
    assert messages[0].startswith("p.yaml:1: must be a mapping")


def test_no_providers_listed(problems):
    messages = problems("providers: []\n")
    assert len(messages) == 1
    assert messages[0].startswith("p.yaml:1: providers: is empty")


def test_providers_key_without_a_list(problems):
    messages = problems("# comment\nproviders:\n")
    assert len(messages) == 1
    assert messages[0].startswith("p.yaml:2: providers: must be a list")


def test_missing_file_is_reported_as_unreadable(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigInvalid) as info:
        load_providers(path)
    (error,) = info.value.errors
    assert error.file == str(path)
    assert error.line is None
    assert str(error).startswith(f"{path}: cannot be read")
    assert "cannot be read" in str(info.value)


def test_directory_is_reported_as_unreadable(tmp_path):
    with pytest.raises(ConfigInvalid) as info:
        load_providers(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: cannot be read")


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("Provider A", "Fournisseur é").encode("latin-1"))
    with pytest.raises(ConfigInvalid) as info:
        load_providers(path)
    (error,) = info.value.errors
    assert error.file == str(path)
    assert "UTF-8" in str(error)


def test_the_package_exports_the_loader_s_public_names():
    import autoconfig.config as package
    from autoconfig.config import loader

    for name in ("Config", "Origin", "load_config", "load_providers", "parse_providers"):
        assert getattr(package, name) is getattr(loader, name)
    assert set(package.__all__) >= {"Config", "ConfigInvalid", "Diagnostic", "lint", "load_config"}
