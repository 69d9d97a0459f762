"""Addresses, domains and placeholders as clients send them and providers.yaml uses them."""

import pytest

from autoconfig.address import (
    HOST_PLACEHOLDERS,
    PLACEHOLDERS,
    AddressError,
    normalize_domain,
    parse_address,
    placeholder_errors,
    substitute,
)

# A domain of exactly 253 octets (the DNS limit): three 63-octet labels and one of 61.
DOMAIN_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


# parse_address: what is accepted


@pytest.mark.parametrize(
    ("text", "local_part", "domain"),
    [
        ("joe@example.com", "joe", "example.com"),
        ("Joe.Bloggs@example.com", "Joe.Bloggs", "example.com"),
        ("first+tag@mail.example.org", "first+tag", "mail.example.org"),
        ("o'brien@example.com", "o'brien", "example.com"),
        ("x_y-z!#$&*/=?^`{|}~@example.com", "x_y-z!#$&*/=?^`{|}~", "example.com"),
    ],
)
def test_plain_addresses_are_accepted(text, local_part, domain):
    address = parse_address(text)
    assert address.local_part == local_part
    assert address.domain == domain
    assert address.ascii_domain == domain
    assert str(address) == text


def test_domain_keeps_the_users_spelling_but_looks_up_lower_case_a_labels():
    address = parse_address("Anne@Bücher.Example")
    assert address.local_part == "Anne"
    assert address.domain == "Bücher.Example"
    assert address.ascii_domain == "xn--bcher-kva.example"


def test_upper_case_ascii_domain_is_looked_up_in_lower_case():
    address = parse_address("joe@EXAMPLE.Com")
    assert address.domain == "EXAMPLE.Com"
    assert address.ascii_domain == "example.com"


@pytest.mark.parametrize(
    "local_part",
    ['"a<b>"', '"john doe"', '"a@b"', '"a..b"', r'"a\"b"', '".a"'],
)
def test_quoted_local_parts_are_accepted_as_written(local_part):
    address = parse_address(f"{local_part}@example.com")
    assert address.local_part == local_part
    assert address.ascii_domain == "example.com"


def test_the_last_at_sign_separates_local_part_and_domain():
    address = parse_address('"a@b"@example.com')
    assert address.local_part == '"a@b"'
    assert address.domain == "example.com"


@pytest.mark.parametrize("text", ["jörg@example.com", "用户@例子.example", "θσερ@example.com"])
def test_non_ascii_local_parts_are_accepted_smtputf8(text):
    local_part = text.rpartition("@")[0]
    assert parse_address(text).local_part == local_part


def test_local_part_of_64_octets_is_accepted():
    assert parse_address("a" * 64 + "@example.com").local_part == "a" * 64


def test_non_ascii_local_part_is_measured_in_octets():
    assert parse_address("ö" * 32 + "@example.com").local_part == "ö" * 32  # 64 octets
    with pytest.raises(AddressError, match="local part"):
        parse_address("ö" * 33 + "@example.com")  # 33 characters, 66 octets


def test_address_of_254_octets_is_accepted():
    domain = DOMAIN_253[:-2]  # 251 octets: a 2-octet local part, "@" and it make 254
    text = "a" * (254 - 1 - len(domain)) + "@" + domain
    assert len(text) == 254
    assert parse_address(text).ascii_domain == domain


def test_domain_label_of_63_octets_is_accepted():
    label = "b" * 63
    assert parse_address(f"a@{label}.example").ascii_domain == f"{label}.example"


def test_trailing_dot_of_the_domain_is_ignored_for_lookups():
    assert parse_address("joe@example.com.").ascii_domain == "example.com"


# parse_address: what is rejected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a@", "domain is empty"),
        ("@example.com", "no local part"),
        ("no-at-sign", "no '@'"),
        ("", "no '@'"),
        ("a@b@c", "quoting"),
        ("a@b@example.com", "quoting"),
        ("a..b@example.com", "quoting"),
        (".a@example.com", "quoting"),
        ("a.@example.com", "quoting"),
        ("john doe@example.com", "quoting"),
        ("a<b>@example.com", "quoting"),
        ('"unclosed@example.com', "quoted local part"),
        ('"a"b"@example.com', "quoted local part"),
        ("a@[192.0.2.1]", "address literals"),
        ("a@[IPv6:2001:db8::1]", "address literals"),
        ("a@exa mple.com", "not a valid domain"),
        ("a@-example.com", "not a valid domain"),
        ("a@example-.com", "not a valid domain"),
        ("a@mail_server.example", "not a valid domain"),
        ("a@example..com", "not a valid domain"),
    ],
)
def test_malformed_addresses_are_rejected(text, words):
    with pytest.raises(AddressError, match=words):
        parse_address(text)


def test_local_part_of_65_octets_is_rejected():
    with pytest.raises(AddressError, match="local part is longer than 64"):
        parse_address("a" * 65 + "@example.com")


def test_address_over_254_octets_is_rejected():
    domain = DOMAIN_253[:-1]  # 252 octets, a valid domain on its own
    text = "ab@" + domain
    assert len(text) == 255
    normalize_domain(domain)  # the domain alone is fine: the total length is the problem
    with pytest.raises(AddressError, match="longer than 254"):
        parse_address(text)


def test_domain_label_over_63_octets_is_rejected():
    with pytest.raises(AddressError, match="over 63"):
        parse_address("a@" + "b" * 64 + ".example")


@pytest.mark.parametrize(
    "text",
    [
        "a\x00b@example.com",
        "a\tb@example.com",
        "a\nb@example.com",
        "a\rb@example.com",
        "a\x1b@example.com",
        "a\x7fb@example.com",
        "a\x85b@example.com",
        "joe@example\x00.com",
        '"a\x01b"@example.com',
        "joe@example.com\n",
    ],
)
def test_control_characters_are_rejected(text):
    with pytest.raises(AddressError, match="control characters"):
        parse_address(text)


# normalize_domain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.COM", "example.com"),
        ("Example.Com.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("localhost", "localhost"),
        (DOMAIN_253, DOMAIN_253),
    ],
)
def test_normalize_domain_gives_lower_case_a_labels(text, expected):
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        (".", "empty"),
        ("exa mple.com", "not a valid domain"),
        ("-bad.example", "not a valid domain"),
        ("bad-.example", "not a valid domain"),
        ("mail_server.example", "not a valid domain"),
        ("mail..example.com", "not a valid domain"),
        ("example.com..", "not a valid domain"),
        ("*.example.com", "not a valid domain"),
        ("b" * 64 + ".example", "over 63"),
        (DOMAIN_253 + "e", "longer than 253"),
        ("exam\x00ple.com", "control characters"),
    ],
)
def test_normalize_domain_rejects_what_dns_cannot_hold(text, words):
    with pytest.raises(AddressError, match=words):
        normalize_domain(text)


# placeholder_errors


@pytest.mark.parametrize(
    "template",
    [
        "%EMAILADDRESS%",
        "%EMAILLOCALPART%",
        "%EMAILLOCALPART%@%EMAILDOMAIN%",
        "mail.%EMAILDOMAIN%",
        "plain-login",
        "",
    ],
)
def test_known_placeholders_raise_no_error(template):
    assert placeholder_errors(template, PLACEHOLDERS) == []


def test_unknown_placeholder_is_named():
    (problem,) = placeholder_errors("%EMAIL%", PLACEHOLDERS)
    assert "%EMAIL%" in problem
    assert "is not a placeholder" in problem


def test_lone_percent_sign_is_reported():
    (problem,) = placeholder_errors("user%", PLACEHOLDERS)
    assert "lone '%'" in problem


def test_placeholder_names_are_case_sensitive():
    (problem,) = placeholder_errors("%emailaddress%", PLACEHOLDERS)
    assert "%emailaddress%" in problem


def test_every_bad_placeholder_is_reported():
    problems = placeholder_errors("%USER%.%DOMAIN%.%EMAILDOMAIN%.%", PLACEHOLDERS)
    assert len(problems) == 3
    assert "%USER%" in problems[0]
    assert "%DOMAIN%" in problems[1]
    assert "lone '%'" in problems[2]


def test_whole_address_is_no_placeholder_for_host_names():
    (problem,) = placeholder_errors("%EMAILADDRESS%.example", HOST_PLACEHOLDERS)
    assert "%EMAILADDRESS%" in problem
    assert placeholder_errors("mail.%EMAILDOMAIN%", HOST_PLACEHOLDERS) == []
    assert placeholder_errors("%EMAILLOCALPART%.example", HOST_PLACEHOLDERS) == []


# substitute


def test_substitute_fills_every_placeholder():
    address = parse_address("Jane.Doe@example.com")
    assert substitute("%EMAILADDRESS%", address) == "Jane.Doe@example.com"
    assert substitute("%EMAILLOCALPART%", address) == "Jane.Doe"
    assert substitute("%EMAILDOMAIN%", address) == "example.com"
    assert substitute("%EMAILLOCALPART%+x@%EMAILDOMAIN%", address) == "Jane.Doe+x@example.com"
    assert substitute("%EMAILDOMAIN%/%EMAILDOMAIN%", address) == "example.com/example.com"


def test_login_names_get_the_domain_as_the_user_wrote_it():
    address = parse_address("Anne@Bücher.Example")
    assert substitute("%EMAILADDRESS%", address) == "Anne@Bücher.Example"
    assert substitute("%EMAILLOCALPART%@%EMAILDOMAIN%", address) == "Anne@Bücher.Example"
    assert substitute("mail.%EMAILDOMAIN%", address) == "mail.Bücher.Example"


def test_host_names_get_the_lower_case_a_label_domain():
    address = parse_address("Anne@Bücher.Example")
    assert substitute("mail.%EMAILDOMAIN%", address, for_host=True) == (
        "mail.xn--bcher-kva.example"
    )
    assert substitute("imap.%EMAILDOMAIN%", parse_address("joe@EXAMPLE.COM"), for_host=True) == (
        "imap.example.com"
    )


def test_values_are_not_expanded_again():
    address = parse_address("x%EMAILDOMAIN%y@example.com")
    assert substitute("%EMAILLOCALPART%", address) == "x%EMAILDOMAIN%y"
    assert substitute("%EMAILADDRESS%", address) == "x%EMAILDOMAIN%y@example.com"
    assert substitute("%EMAILLOCALPART%|%EMAILDOMAIN%", address) == "x%EMAILDOMAIN%y|example.com"


def test_local_part_that_is_a_placeholder_stays_literal():
    address = parse_address("%EMAILADDRESS%@example.com")
    assert substitute("%EMAILLOCALPART%", address) == "%EMAILADDRESS%"


def test_unknown_tokens_and_plain_text_are_left_as_they_are():
    address = parse_address("joe@example.com")
    assert substitute("%UNKNOWN%-%EMAILDOMAIN%", address) == "%UNKNOWN%-example.com"
    assert substitute("%emaildomain%", address) == "%emaildomain%"
    assert substitute("smtp.example.com", address) == "smtp.example.com"
