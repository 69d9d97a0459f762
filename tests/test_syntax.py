"""YAML and UTF-8 mistakes as `autoconfig check` reports them: the line, the column and the fix.

Each case is a real broken file, checked once with libyaml's parser and once with PyYAML's own:
an admin reads the same words whichever parser their PyYAML was built with.
"""

import subprocess
import sys

import pytest
import yaml

from autoconfig import cli
from autoconfig.config import yaml_nodes

from .test_loader import swap

GOOD = """\
providers:
  - id: acme.test
    displayName: Acme
    domains:
      - acme.test
    incoming:
      - type: imap
        hostname: imap.acme.test
        socketType: SSL
        username: "%EMAILADDRESS%"
    outgoing:
      - hostname: smtp.acme.test
        socketType: SSL
"""

PARSERS = {"libyaml": yaml.CSafeLoader, "pure-python": yaml.SafeLoader}


@pytest.fixture(params=PARSERS)
def check(request, tmp_path, monkeypatch, capsys):
    """`autoconfig check providers.yaml` in a folder holding `files`: (exit code, stderr lines)."""
    monkeypatch.setattr(yaml_nodes, "YAML_LOADER", PARSERS[request.param])
    monkeypatch.chdir(tmp_path)

    def run(files: dict[str, str | bytes]) -> tuple[int, list[str]]:
        for name, content in files.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        code = cli.main(["check", "providers.yaml"])
        output = capsys.readouterr()
        assert output.out.startswith("providers.yaml: OK") if code == 0 else output.out == ""
        return code, output.err.splitlines()

    return run


def test_the_good_file_is_good(check):
    assert check({"providers.yaml": GOOD}) == (0, [])


QUOTE_CASES = {
    "wildcard domain in a list": (
        swap(GOOD, "      - acme.test\n", "      - *.acme.test\n"),
        "providers.yaml:5: not valid YAML: a value cannot start with '*' (column 9); "
        "quote this value: '*.acme.test'",
    ),
    "wildcard domain in a flow list, with a comment": (
        swap(
            GOOD,
            "    domains:\n      - acme.test\n",
            "    domains: [acme.test, *.acme.test] # all\n",
        ),
        "providers.yaml:4: not valid YAML: a value cannot start with '*' (column 26); "
        "quote this value: '*.acme.test'",
    ),
    "placeholder address": (
        swap(GOOD, '"%EMAILADDRESS%"', "%EMAILLOCALPART%@acme.test"),
        "providers.yaml:10: not valid YAML: a value cannot start with '%' (column 19); "
        "quote this value: '%EMAILLOCALPART%@acme.test'",
    ),
    "placeholder with a comment after it": (
        swap(GOOD, '"%EMAILADDRESS%"', "%EMAILLOCALPART%   # the local part"),
        "providers.yaml:10: not valid YAML: a value cannot start with '%' (column 19); "
        "quote this value: '%EMAILLOCALPART%'",
    ),
    "placeholder in a flow mapping": (
        swap(
            GOOD,
            "      - hostname: smtp.acme.test\n        socketType: SSL\n",
            "      - {hostname: %EMAILDOMAIN%, socketType: SSL}\n",
        ),
        "providers.yaml:12: not valid YAML: a value cannot start with '%' (column 20); "
        "quote this value: '%EMAILDOMAIN%'",
    ),
    "a name that YAML takes for an undefined alias": (
        swap(GOOD, "displayName: Acme", "displayName: *Acme"),
        "providers.yaml:3: not valid YAML: a value cannot start with '*' (column 18); "
        "quote this value: '*Acme'",
    ),
    "a name that YAML takes for an anchor": (
        swap(GOOD, "displayName: Acme", "displayName: &Co. Mail"),
        "providers.yaml:3: not valid YAML: a value cannot start with '&' (column 18); "
        "quote this value: '&Co. Mail'",
    ),
    "a quote inside the value is doubled": (
        swap(GOOD, "displayName: Acme", "displayName: @cme's mail"),
        "providers.yaml:3: not valid YAML: a value cannot start with '@' (column 18); "
        "quote this value: '@cme''s mail'",
    ),
    "a colon and a space inside a value": (
        swap(GOOD, "displayName: Acme", "displayName: Acme: mail"),
        "providers.yaml:3: not valid YAML: mapping values are not allowed in this context "
        "(column 22): a value that holds ': ' must be quoted; quote this value: 'Acme: mail'",
    ),
}


@pytest.mark.parametrize("case", QUOTE_CASES)
def test_a_value_that_must_be_quoted_is_shown_quoted(check, case):
    text, expected = QUOTE_CASES[case]
    assert check({"providers.yaml": text}) == (1, [expected])


def test_the_quoted_form_shown_is_one_that_loads(check):
    text, expected = QUOTE_CASES["placeholder address"]
    quoted = expected.split("quote this value: ", 1)[1]
    fixed = swap(text, "%EMAILLOCALPART%@acme.test", quoted)
    assert check({"providers.yaml": fixed}) == (0, [])


TAB_CASES = {
    "a tab before a key": (
        swap(
            GOOD, "        socketType: SSL\n        username", "\tsocketType: SSL\n        username"
        ),
        "providers.yaml:9: not valid YAML: tabs are not allowed for indentation (column 1); "
        "indent with spaces",
    ),
    "a tab after spaces": (
        swap(GOOD, "        hostname: imap", "      \t  hostname: imap"),
        "providers.yaml:8: not valid YAML: tabs are not allowed for indentation (column 7); "
        "indent with spaces",
    ),
    "a tab after a list item's dash": (
        swap(GOOD, "      - type: imap", "      -\ttype: imap"),
        "providers.yaml:7: not valid YAML: tabs are not allowed for indentation (column 8); "
        "indent with spaces",
    ),
    "a tab at the start of the file": (
        "\t" + GOOD,
        "providers.yaml:1: not valid YAML: tabs are not allowed for indentation (column 1); "
        "indent with spaces",
    ),
}


@pytest.mark.parametrize("case", TAB_CASES)
def test_a_tab_in_the_indentation_is_named(check, case):
    text, expected = TAB_CASES[case]
    assert check({"providers.yaml": text}) == (1, [expected])


def test_a_tab_in_an_included_file_is_named_in_that_file(check):
    included = "providers:\n" + GOOD.split("providers:\n", 1)[1].replace("acme", "other")
    broken = swap(included, "        socketType: SSL\n        username", "\tsocketType: SSL\n")
    files = {"providers.yaml": "include: more/other.yaml\n" + GOOD, "more/other.yaml": broken}
    assert check(files) == (
        1,
        [
            "more/other.yaml:9: not valid YAML: tabs are not allowed for indentation (column 1); "
            "indent with spaces"
        ],
    )


INDENTATION_CASES = {
    "a list item indented more than its sibling": (
        swap(
            GOOD,
            '"%EMAILADDRESS%"\n',
            '"%EMAILADDRESS%"\n       - {type: pop3, hostname: pop.acme.test, socketType: SSL}\n',
        ),
        "providers.yaml:11: not valid YAML: wrong indentation (column 8): this list item lines "
        "up with nothing above it; the list item on line 7 is at column 7, the key 'username' "
        "on line 10 is at column 9",
    ),
    "a list item indented less than its sibling": (
        swap(GOOD, "      - acme.test\n", "      - acme.test\n     - www.acme.test\n"),
        "providers.yaml:6: not valid YAML: wrong indentation (column 6): this list item lines "
        "up with nothing above it; the key 'domains' on line 4 is at column 5, the list item on "
        "line 5 is at column 7",
    ),
    "a key between a list item's dash and its keys": (
        swap(GOOD, "        hostname: imap", "       hostname: imap"),
        "providers.yaml:8: not valid YAML: wrong indentation (column 8): the key 'hostname' "
        "lines up with nothing above it; the list item on line 7 is at column 7, the key 'type' "
        "on line 7 is at column 9",
    ),
    "a key deeper than the key above it": (
        swap(
            GOOD,
            "        socketType: SSL\n        username",
            "          socketType: SSL\n        username",
        ),
        "providers.yaml:9: not valid YAML: wrong indentation (column 11): the key 'socketType' "
        "lines up with nothing above it; the key 'hostname' on line 8 is at column 9",
    ),
    "a key deeper than the one above, past a comment": (
        swap(
            GOOD,
            "        socketType: SSL\n        username",
            "# TLS\n          socketType: SSL\n        username",
        ),
        "providers.yaml:10: not valid YAML: wrong indentation (column 11): the key 'socketType' "
        "lines up with nothing above it; the key 'hostname' on line 8 is at column 9",
    ),
    "a top-level key indented by one space": (
        GOOD + " defaultProvider: acme.test\n",
        "providers.yaml:14: not valid YAML: wrong indentation (column 2): the key "
        "'defaultProvider' lines up with nothing above it; the key 'providers' on line 1 is at "
        "column 1, the list item on line 2 is at column 3",
    ),
    "a missing space after a colon": (
        swap(
            GOOD,
            "        socketType: SSL\n        username",
            "        socketType:SSL\n        username",
        ),
        "providers.yaml:9: not valid YAML: while scanning a simple key could not find expected "
        "':' (column 9); put a space after the ':' of a key: write 'socketType: SSL'",
    ),
    "a missing space after a colon, noticed on the next line": (
        swap(GOOD, "  - id: acme.test", "  - id:acme.test"),
        "providers.yaml:3: not valid YAML: mapping values are not allowed in this context "
        "(column 16); line 2: put a space after the ':' of a key: write 'id: acme.test'",
    ),
}


@pytest.mark.parametrize("case", INDENTATION_CASES)
def test_an_indentation_error_gets_its_column_and_a_hint(check, case):
    text, expected = INDENTATION_CASES[case]
    assert check({"providers.yaml": text}) == (1, [expected])


@pytest.mark.parametrize(
    ("before", "after", "column"),
    [
        (
            '"%EMAILADDRESS%"\n',
            '"%EMAILADDRESS%"\n       - {type: pop3, hostname: pop.acme.test, socketType: SSL}\n',
            7,
        ),
        ("      - acme.test\n", "      - acme.test\n     - www.acme.test\n", 7),
        ("        hostname: imap", "       hostname: imap", 9),
        (
            "        socketType: SSL\n        username",
            "          socketType: SSL\n        username",
            9,
        ),
    ],
)
def test_moving_the_line_to_a_column_the_hint_names_fixes_the_file(check, before, after, column):
    broken = swap(GOOD, before, after)
    code, (message,) = check({"providers.yaml": broken})
    assert code == 1 and f"is at column {column}" in message
    number = int(message.split(":", 2)[1])
    lines = broken.splitlines(keepends=True)
    lines[number - 1] = " " * (column - 1) + lines[number - 1].lstrip(" ")
    assert check({"providers.yaml": "".join(lines)}) == (0, [])


def test_writing_what_the_hint_says_fixes_the_file(check):
    for before, after in [
        ("socketType: SSL\n        username", "socketType:SSL\n        username"),
        ("id: acme.test", "id:acme.test"),
    ]:
        broken = swap(GOOD, before, after)
        code, (message,) = check({"providers.yaml": broken})
        assert code == 1
        written = message.split("write '", 1)[1].removesuffix("'")
        assert check({"providers.yaml": swap(broken, after.split("\n")[0], written)}) == (0, [])


def test_an_undefined_alias_is_not_called_text_where_the_file_uses_anchors(check):
    broken = swap(GOOD, "    incoming:\n", "    incoming: &servers\n") + "    webMail: *sevrers\n"
    code, (message,) = check({"providers.yaml": broken})
    assert code == 1
    assert "found undefined alias" in message and "quote" not in message


def test_other_syntax_errors_keep_the_parsers_words(check):
    broken = swap(GOOD, "displayName: Acme", "displayName: 'Acme")
    code, (message,) = check({"providers.yaml": broken})
    assert code == 1
    assert message.startswith("providers.yaml:3: not valid YAML: while scanning a quoted scalar")


def test_no_quoting_hint_where_an_earlier_quote_is_the_mistake(check):
    """`"Acme` is closed by the next `"`, seven lines down: the `%` after it is no value."""
    broken = swap(GOOD, "displayName: Acme", 'displayName: "Acme')
    code, (message,) = check({"providers.yaml": broken})
    assert code == 1
    assert message.startswith("providers.yaml:10: not valid YAML: ")
    assert "quote this value" not in message
    assert "cannot start any token" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            GOOD.replace("displayName: Acme", "displayName: Acmé").encode("latin-1"),
            "providers.yaml:3: is not UTF-8 text: byte 0xe9 at column 21 (invalid continuation "
            "byte)",
        ),
        (
            "providers: [é, ".encode() + b"\xff]\n",
            "providers.yaml:1: is not UTF-8 text: byte 0xff at column 16 (invalid start byte)",
        ),
    ],
)
def test_bytes_that_are_not_utf8_are_located_by_line_and_column(check, content, expected):
    assert check({"providers.yaml": content}) == (1, [expected])


def test_a_domain_list_that_is_not_utf8_is_located_in_that_file(check):
    text = swap(GOOD, "    domains:\n      - acme.test\n", "    domainsFile: customers.txt\n")
    files = {"providers.yaml": text, "customers.txt": b"one.example\n# M\xfcller\nb.example\n"}
    assert check(files) == (
        1,
        [
            "customers.txt:2: providers[0].domainsFile: is not UTF-8 text: byte 0xfc at "
            "column 4 (invalid start byte)"
        ],
    )


def test_the_installed_command_says_the_same(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(swap(GOOD, "      - acme.test\n", "      - *.acme.test\n"))
    done = subprocess.run(
        [sys.executable, "-m", "autoconfig", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"{path}:5: not valid YAML: a value cannot start with '*' (column 9); "
        "quote this value: '*.acme.test'\n"
    )
