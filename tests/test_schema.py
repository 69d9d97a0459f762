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


def test_every_key_the_loader_accepts_is_in_the_schema():
    schema = spec.json_schema()
    provider_keys = set(schema["$defs"]["provider"]["properties"])
    assert provider_keys == set(spec.PROVIDER.names)
    from autoconfig.config import loader

    assert set(loader.PROVIDER_KEYS) == provider_keys
    assert set(loader.SERVER_KEYS) == set(schema["$defs"]["incomingServer"]["properties"])
    assert set(loader.TOP_LEVEL_KEYS) == set(schema["properties"])
