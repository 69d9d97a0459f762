"""`autoconfig lookup`: who serves an address or domain, by which rule, written where.

The CLI is run on files written here, and every line it names is checked against the file itself;
`Catalog.explain` is held to `Catalog.lookup` (the server's answer) on generated catalogs.
"""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoconfig import cli
from autoconfig.catalog import Catalog, Rule
from autoconfig.model import Domain, Provider, Redirect

from .conftest import BUNDLED

MAIN = """\
defaultProvider: fallback.example
providers:
  - id: acme.test
    displayName: Acme
    domains:
      - acme.test
      - "*.acme.test"
      - name: old.test
        redirectAddr: "%EMAILLOCALPART%@acme.test"
    incoming: [{type: imap, hostname: imap.acme.test, socketType: SSL}]
    outgoing: [{hostname: smtp.acme.test, socketType: SSL}]

  - id: hoster.test
    displayName: Hoster
    domainsFile: customers.txt
    redirectUrl: https://autodiscover.hoster.test/autodiscover/autodiscover.xml
    incoming: [{type: imap, hostname: "mail.%EMAILDOMAIN%", socketType: SSL}]
    outgoing: [{hostname: "mail.%EMAILDOMAIN%", socketType: SSL}]

include: more.yaml
"""

MORE = """\
providers:
  - id: fallback.example
    displayName: Fallback
    domains: [fallback.example]
    incoming: [{type: imap, hostname: imap.fallback.example, socketType: SSL}]
    outgoing: [{hostname: smtp.fallback.example, socketType: SSL}]
"""

CUSTOMERS = """\
# one customer a line
alpha.test
beta.test   # a comment after the name
Bücher.test
*.shops.test
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "more.yaml").write_text(MORE, encoding="utf-8")
    (tmp_path / "customers.txt").write_text(CUSTOMERS, encoding="utf-8")
    main = tmp_path / "providers.yaml"
    main.write_text(MAIN, encoding="utf-8")
    return main


def line_of(path: Path, text: str) -> int:
    """The 1-based line of `path` that holds `text` (once)."""
    (number,) = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return number


def lookup(capsys, config: Path, query: str, *options: str) -> tuple[int, str, str]:
    status = cli.main(["lookup", query, "--config", str(config), *options])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def lookup_json(capsys, config: Path, query: str) -> tuple[int, dict]:
    status, out, _ = lookup(capsys, config, query, "--format", "json")
    return status, json.loads(out)


def test_exact_name_names_the_provider_and_the_entry_line(capsys, config):
    status, report = lookup_json(capsys, config, "alice@acme.test")
    assert status == 0
    assert report["served"] is True
    assert report["provider"] == {
        "id": "acme.test",
        "displayName": "Acme",
        "file": str(config),
        "line": line_of(config, "id: acme.test"),
        "path": "providers[0]",
    }
    assert (report["rule"], report["entry"], report["source"]) == ("exact", "acme.test", "domains")
    assert report["where"] == {
        "file": str(config),
        "line": line_of(config, "- acme.test"),
        "path": "providers[0].domains[0]",
    }
    assert report["redirect"] is None


def test_wildcard_is_named_as_written(capsys, config):
    status, report = lookup_json(capsys, config, "b.a.acme.test")
    assert status == 0
    assert (report["rule"], report["entry"]) == ("wildcard", "*.acme.test")
    assert report["where"]["line"] == line_of(config, '"*.acme.test"')


def test_a_domain_of_a_domain_list_file_names_that_file_and_line(capsys, config):
    customers = config.parent / "customers.txt"
    for query, text in (("bob@beta.test", "beta.test"), ("xn--bcher-kva.test", "Bücher")):
        status, report = lookup_json(capsys, config, query)
        assert status == 0
        assert report["provider"]["id"] == "hoster.test"
        assert report["source"] == "domainsFile"
        assert report["where"] == {
            "file": str(customers),
            "line": line_of(customers, text),
            "path": "",
        }
    status, report = lookup_json(capsys, config, "x.shops.test")
    assert (report["rule"], report["entry"]) == ("wildcard", "*.shops.test")
    assert report["where"]["line"] == line_of(customers, "*.shops.test")


def test_the_provider_redirect_applies_to_its_listed_domains(capsys, config):
    status, report = lookup_json(capsys, config, "alpha.test")
    assert status == 0
    assert report["redirect"] == {
        "kind": "redirectUrl",
        "target": "https://autodiscover.hoster.test/autodiscover/autodiscover.xml",
        "owner": "provider",
        "file": str(config),
        "line": line_of(config, "redirectUrl:"),
        "path": "providers[1].redirectUrl",
    }


def test_a_domain_redirect_is_the_domains_own(capsys, config):
    status, report = lookup_json(capsys, config, "bob@old.test")
    assert status == 0
    assert report["redirect"]["owner"] == "domain"
    assert report["redirect"]["target"] == "%EMAILLOCALPART%@acme.test"
    assert report["redirect"]["line"] == line_of(config, "redirectAddr:")
    assert report["redirect"]["path"] == "providers[0].domains[2].redirectAddr"


def test_a_domain_listed_nowhere_goes_to_the_default_provider(capsys, config):
    status, report = lookup_json(capsys, config, "someone@elsewhere.test")
    assert status == 0
    assert report["provider"]["id"] == "fallback.example"
    assert report["provider"]["file"] == str(config.parent / "more.yaml")
    assert (report["rule"], report["entry"], report["source"]) == (
        "default",
        None,
        "defaultProvider",
    )
    assert report["where"]["line"] == line_of(config, "defaultProvider:")


def test_text_output_says_the_same_in_words(capsys, config):
    status, out, _ = lookup(capsys, config, "bob@beta.test")
    assert status == 0
    customers = config.parent / "customers.txt"
    lines = out.splitlines()
    assert lines[0] == "bob@beta.test: served by hoster.test (Hoster)"
    assert f"exact name beta.test, in the domain-list file {customers}:3" in out
    assert "redirect: redirectUrl https://autodiscover.hoster.test/" in out
    assert "the provider's" in out

    status, out, _ = lookup(capsys, config, "nobody@elsewhere.test")
    assert "the default provider (no provider lists elsewhere.test)" in out


def test_nothing_serves_an_unlisted_domain_without_a_default(capsys):
    status, out, _ = lookup(capsys, BUNDLED, "bob@unknown.example")
    assert status == 1
    assert out.strip() == "bob@unknown.example: no provider serves unknown.example"
    status, report = lookup_json(capsys, BUNDLED, "unknown.example")
    assert status == 1
    assert report == {"query": "unknown.example", "domain": "unknown.example", "served": False}


@pytest.mark.parametrize("query", ["a@", "not a domain", "bob@@x.test"])
def test_bad_input_exits_2_with_a_message(capsys, query):
    status, out, err = lookup(capsys, BUNDLED, query)
    assert (status, out) == (2, "")
    assert err.startswith(f"autoconfig: {query!r}: ")


# --- explain is lookup's answer, with how it matched ------------------------------------------

LABELS = st.sampled_from(["a", "b", "c", "mail", "xn--bcher-kva"])
NAMES = st.lists(LABELS, min_size=1, max_size=4).map(".".join)


@st.composite
def catalogs(draw: st.DrawFn) -> tuple[Catalog, list[Provider]]:
    entries = draw(
        st.lists(st.tuples(NAMES, st.booleans(), st.booleans()), unique_by=lambda e: e[:2])
    )
    count = draw(st.integers(1, 3))
    domains: list[list[Domain]] = [[] for _ in range(count)]
    for i, (name, wildcard, redirected) in enumerate(entries):
        redirect = Redirect(url=f"https://r{i}.test/") if redirected else None
        domains[i % count].append(Domain(name, wildcard, redirect, listed=bool(i % 2)))
    providers = [
        Provider(f"p{i}.test", f"P{i}", f"P{i}", tuple(d), (), (), redirect=None)
        for i, d in enumerate(domains)
    ]
    default = draw(st.sampled_from([None, *[p.id for p in providers]]))
    return Catalog(providers, default), providers


@settings(max_examples=300, deadline=None)
@given(catalogs(), NAMES)
def test_explain_agrees_with_lookup_and_names_an_entry_that_covers_the_domain(built, domain):
    catalog, _ = built
    match = catalog.lookup(domain)
    explanation = catalog.explain(domain)
    if match is None:
        assert explanation is None
        return
    assert explanation is not None
    assert explanation.match == match
    entry = explanation.listed_as
    if explanation.rule is Rule.DEFAULT:
        assert entry is None
        assert catalog.lookup(domain, use_default=False) is None
        return
    assert entry is not None
    assert match.provider.domains[explanation.position] is entry
    if explanation.rule is Rule.EXACT:
        assert (entry.name, entry.wildcard) == (domain, False)
    else:
        assert entry.wildcard and domain.endswith("." + entry.name)
    assert match.redirect == (entry.redirect or match.provider.redirect)
