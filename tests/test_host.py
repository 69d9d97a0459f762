"""The Host header, split one way: the mail domain it names, and this server's own name (the
public base URL: the configured one, else https:// and a Host header that parsed cleanly)."""

import pytest

from autoconfig.web.host import HostError, domain_of_host, parse_authority, public_base_url


def host_authority(host: str | None) -> str:
    return str(parse_authority(host))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("autoconfig.example.com", "autoconfig.example.com"),
        ("AutoDiscover.Example.COM", "autodiscover.example.com"),
        ("autodiscover.example.com.", "autodiscover.example.com"),
        ("autodiscover.example.com:8443", "autodiscover.example.com:8443"),
        ("localhost:8080", "localhost:8080"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("192.0.2.1", "192.0.2.1"),
        ("[::1]:8080", "[::1]:8080"),
        ("[2001:DB8:0:0::1]", "[2001:db8::1]"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_host_names_and_ip_literals_are_kept_with_their_port(host, expected) -> None:
    assert host_authority(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "exa mple.com",
        "example.com/evil",
        "example.com?x",
        "user@example.com",
        "example.com:",
        "example.com:0",
        "example.com:65536",
        "example.com:+80",
        "example.com:80:80",
        "-example.com",
        "example-.com",
        "exa_mple.com",
        "bücher.example",
        "a" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "example",
        "[::1",
        "[::1]x",
        "[::1]:99999",
        "[fe80::1%eth0]",
        "[not-an-ip]",
        "example.com\r\nX-Injected: 1",
        '"><script>',
        ".",
        "..",
    ],
)
def test_anything_else_is_refused(host) -> None:
    with pytest.raises(HostError) as caught:
        host_authority(host)
    if host and len(host) > 2:
        assert host not in str(caught.value), "the message never repeats the header"


def test_the_configured_url_wins_and_loses_its_trailing_slash() -> None:
    assert (
        public_base_url("https://mail.example.net/", "evil.example") == "https://mail.example.net"
    )
    assert public_base_url("https://mail.example.net/ac", None) == "https://mail.example.net/ac"


def test_without_configuration_the_scheme_is_https_never_guessed() -> None:
    assert public_base_url(None, "autodiscover.example.com:443") == (
        "https://autodiscover.example.com:443"
    )
    with pytest.raises(HostError):
        public_base_url(None, "bad host")


# The mail domain a Host names


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("autoconfig.example.com", "example.com"),
        ("autoconfig.example.com:443", "example.com"),
        ("AutoConfig.Example.COM:8080", "example.com"),
        ("autoconfig.autoconfig.example.com", "autoconfig.example.com"),
        ("example.com", "example.com"),
        ("example.com:443", "example.com"),
        ("mail.autoconfig.example.com", "mail.autoconfig.example.com"),
        ("autoconfig.bücher.example", "xn--bcher-kva.example"),
        ("autoconfig", "autoconfig"),
        ("autoconfig.", "autoconfig"),
    ],
)
def test_the_domain_loses_the_port_and_one_prefix(host, expected):
    assert domain_of_host(host, ("autoconfig.",)) == expected


def test_only_one_of_several_prefixes_goes():
    prefixes = ("autoconfig.", "autodiscover.")
    assert domain_of_host("autodiscover.example.com", prefixes) == "example.com"
    assert domain_of_host("autodiscover.autoconfig.example.com", prefixes) == (
        "autoconfig.example.com"
    )


def test_without_prefixes_the_whole_name_is_the_domain():
    assert domain_of_host("autoconfig.example.com:443", ()) == "autoconfig.example.com"


@pytest.mark.parametrize(
    "host",
    [
        "192.0.2.1",
        "192.0.2.1:443",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "[::1]",
        "2001:db8::1",
    ],
)
def test_an_ip_address_names_no_domain(host):
    assert domain_of_host(host, ("autoconfig.",)) is None


@pytest.mark.parametrize("host", ["", ":443", "exa mple.com", "mail_server.example:443"])
def test_names_that_are_no_domain_name_none(host):
    assert domain_of_host(host, ("autoconfig.",)) is None
