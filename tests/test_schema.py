"""The JSON Schema of providers.yaml: generated from the loader's spec, committed, and right."""

import json
import re
import subprocess
import sys

import pytest
import yaml
from jsonschema import Draft202012Validator

from autoconfig.config import spec
from autoconfig.config.diagnostics import ConfigInvalid
from autoconfig.config.loader import parse_providers

from .conftest import BUNDLED, ROOT, VARIED

COMMITTED = ROOT / "providers.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = spec.json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_committed_schema_is_what_the_command_prints():
    printed = subprocess.run(
        [sys.executable, "-m", "autoconfig", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(printed) == spec.json_schema()
    assert COMMITTED.read_text() == printed, "run: autoconfig schema > providers.schema.json"


def test_bundled_file_points_editors_at_the_schema():
    first_line = BUNDLED.read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./providers.schema.json"


def readme_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return [
        block for block in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "providers:" in block
    ]


@pytest.mark.parametrize("path", [BUNDLED, VARIED], ids=["bundled", "varied"])
def test_valid_files_validate(validator, path):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_readme_examples_validate_and_load(validator):
    examples = readme_examples()
    assert examples, "the README has providers.yaml examples"
    for example in examples:
        assert [e.message for e in validator.iter_errors(yaml.safe_load(example))] == []
        assert parse_providers(example, "README.md")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("port: 993", "port: '993'"), "'993' is not of type 'integer'"),
        (("port: 993", "port: 70000"), "70000 is greater than the maximum"),
        (("socketType: SSL", "socketType: TLS"), "'TLS' is not one of"),
        (("hostname: imap.example.com", "hostnme: imap.example.com"), "hostnme"),
        (("displayName: Example Mail", "displayName: " + "x" * 61), "is too long"),
        (("authentication: password-cleartext", "authentication: kerberos"), "kerberos"),
    ],
)
def test_invalid_files_fail_both_the_schema_and_the_loader(validator, change, fragment):
    text = BUNDLED.read_text().replace(*change, 1)
    assert text != BUNDLED.read_text()
    messages = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    messages += [
        m
        for e in validator.iter_errors(yaml.safe_load(text))
        for m in [c.message for c in e.context]
    ]
    assert any(fragment in m for m in messages), messages
    with pytest.raises(ConfigInvalid):
        parse_providers(text, "providers.yaml")


ONE_PROVIDER = """\
providers:
  - id: a.example
    displayName: A
    domains: [a.example, {name: b.example, redirectUrl: "https://x.example/"}]
    incoming: [{type: imap, hostname: imap.a.example, socketType: SSL}]
    outgoing: [{hostname: smtp.a.example, socketType: SSL}]
    documentation: [{url: "https://a.example/help"}]
    oAuth2:
      {issuer: a.example, scope: mail, authURL: "https://a.example/a", tokenURL: "https://a.example/t"}
    caldav: {url: "https://dav.a.example/"}
"""


@pytest.mark.parametrize(
    ("record", "old", "new"),
    [
        (None, "providers:", "zzz: 1\nproviders:"),
        ("provider", "    displayName: A", "    displayName: A\n    zzz: 1"),
        (
            "incomingServer",
            "socketType: SSL}]\n    outgoing",
            "socketType: SSL, zzz: 1}]\n    outgoing",
        ),
        (
            "outgoingServer",
            "smtp.a.example, socketType: SSL}",
            "smtp.a.example, socketType: SSL, zzz: 1}",
        ),
        ("domainEntry", '"https://x.example/"}', '"https://x.example/", zzz: 1}'),
        ("documentation", '"https://a.example/help"}', '"https://a.example/help", zzz: 1}'),
        ("oAuth2", '"https://a.example/t"}', '"https://a.example/t", zzz: 1}'),
        ("webService", '"https://dav.a.example/"}', '"https://dav.a.example/", zzz: 1}'),
    ],
)
def test_the_loader_allows_exactly_the_keys_of_the_schema(record, old, new):
    """The keys an unknown-key error lists as allowed are the schema's, record by record."""
    assert parse_providers(ONE_PROVIDER, "p.yaml")
    assert ONE_PROVIDER.count(old) == 1
    with pytest.raises(ConfigInvalid) as info:
        parse_providers(ONE_PROVIDER.replace(old, new), "p.yaml")
    (error,) = info.value.errors
    assert error.message.startswith("unknown key")
    allowed = error.message.split("allowed here: ", 1)[1].split(", ")
    schema = spec.json_schema()
    properties = schema["$defs"][record]["properties"] if record else schema["properties"]
    assert allowed == list(properties)
