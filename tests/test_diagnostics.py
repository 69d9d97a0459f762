"""One record for errors and warnings: each code comes from a real broken file and is documented."""

import json
import re
from pathlib import Path

import pytest

from autoconfig.catalog import Catalog
from autoconfig.config import diagnostics
from autoconfig.config.diagnostics import CODES, ConfigInvalid, Diagnostic, Severity
from autoconfig.config.lint import lint
from autoconfig.config.loader import load_config
from autoconfig.reload import ConfigState, Reloader

from .conftest import BUNDLED, ROOT
from .test_lint import run_check
from .test_loader import GOOD, swap, with_incoming

# (code, files written into an empty folder where p.yaml is loaded, the start of a line it gives)
CASES: list[tuple[str, dict[str, str | bytes], str]] = [
    ("AC001", {}, "p.yaml: cannot be read: No such file or directory"),
    (
        "AC001",
        {"p.yaml": "providers: [é]\n".encode("latin-1")},
        "p.yaml:1: is not UTF-8 text: byte 0xe9 at column 13 (invalid continuation byte)",
    ),
    ("AC001", {"p.yaml": "# nothing here yet\n"}, "p.yaml:1: the file is empty"),
    (
        "AC001",
        {"p.yaml": "include: other.yaml\n"},
        "p.yaml:1: include: 'other.yaml' does not exist",
    ),
    (
        "AC001",
        {
            "p.yaml": swap(
                GOOD, "    domains:\n      - a.example\n", "    domainsFile: list.txt\n"
            ),
            "list.txt": "# none yet\n",
        },
        "p.yaml:4: providers[0].domainsFile: 'list.txt' lists no domain",
    ),
    (
        "AC001",
        {"p.yaml": swap(GOOD, "    domains:\n      - a.example\n", "    domainsFile: gone.txt\n")},
        "p.yaml:4: providers[0].domainsFile: 'gone.txt' cannot be read: No such file or directory",
    ),
    (
        "AC002",
        {"p.yaml": swap(GOOD, "hostname: imap.a.example", "hostname: imap: a.example")},
        "p.yaml:8: not valid YAML: mapping values are not allowed in this context",
    ),
    (
        "AC002",
        {"p.yaml": swap(GOOD, "displayName: Provider A", "displayName: Provider\x07A")},
        "p.yaml:3: not valid YAML: character ",
    ),
    (
        "AC002",
        {"p.yaml": swap(GOOD, "port: 993", "port: !port 993")},
        "p.yaml:9: providers[0].incoming[0].port: cannot be read: could not determine a "
        "constructor for the tag '!port'",
    ),
    (
        "AC003",
        {"p.yaml": swap(GOOD, "hostname: imap.a.example", "hostnme: imap.a.example")},
        "p.yaml:8: providers[0].incoming[0].hostnme: unknown key (did you mean 'hostname'?); "
        "allowed here: type, hostname, port, socketType, authentication, username",
    ),
    ("AC003", {"p.yaml": GOOD + "[a, b]: x\n"}, "p.yaml:15: keys must be plain names"),
    (
        "AC004",
        {
            "p.yaml": swap(
                GOOD, "    displayName: Provider A\n", "    displayName: A\n    displayName: B\n"
            )
        },
        "p.yaml:4: providers[0].displayName: is given twice (first on line 3)",
    ),
    (
        "AC004",
        {"p.yaml": with_incoming("authentication: [NTLM, NTLM]")},
        "p.yaml:10: providers[0].incoming[0].authentication[1]: NTLM is listed twice",
    ),
    (
        "AC004",
        {
            "p.yaml": GOOD
            + "    documentation:\n      - url: https://a.example/help\n"
            + "        descr:\n          en: Help\n          en: Again\n"
        },
        "p.yaml:19: providers[0].documentation[0].descr.en: is given twice (first on line 18)",
    ),
    (
        "AC005",
        {"p.yaml": swap(GOOD, "    displayName: Provider A\n", "")},
        "p.yaml:2: providers[0].displayName: is missing",
    ),
    (
        "AC005",
        {"p.yaml": "providers: []\n"},
        "p.yaml:1: providers: is empty: list at least one provider",
    ),
    (
        "AC005",
        {"p.yaml": swap(GOOD, "displayName: Provider A", 'displayName: "  "')},
        "p.yaml:3: providers[0].displayName: must not be empty",
    ),
    (
        "AC005",
        {"p.yaml": GOOD.split("    outgoing:")[0] + "    redirectUrl: https://x.example/\n"},
        "p.yaml:2: providers[0].outgoing: is needed too: clients need both directions",
    ),
    (
        "AC005",
        {"p.yaml": "include: other.yaml\n", "other.yaml": "providers: []\n"},
        "p.yaml:1: providers: no provider is defined",
    ),
    (
        "AC006",
        {"p.yaml": swap(GOOD, "port: 993", 'port: "993"')},
        "p.yaml:9: providers[0].incoming[0].port: must be a whole number, not the text '993'",
    ),
    ("AC006", {"p.yaml": "- a\n"}, "p.yaml:1: must be a mapping (key: value), not a list"),
    (
        "AC006",
        {"p.yaml": "providers: {a: b}\n"},
        "p.yaml:1: providers: must be a list, not a mapping",
    ),
    (
        "AC006",
        {
            "p.yaml": GOOD
            + "    documentation:\n      - url: https://a.example/\n        descr: [a]\n"
        },
        "p.yaml:17: providers[0].documentation[0].descr: must be a title, or map language codes "
        "to titles (en: Mail set-up)",
    ),
    (
        "AC007",
        {"p.yaml": swap(GOOD, "port: 993", "port: 70000")},
        "p.yaml:9: providers[0].incoming[0].port: 70000 is not a port (1-65535)",
    ),
    (
        "AC007",
        {"p.yaml": swap(GOOD, "displayName: Provider A", 'displayName: "Provider\\ue000A"')},
        "p.yaml:3: providers[0].displayName: must not contain control or private-use characters",
    ),
    (
        "AC007",
        {"p.yaml": GOOD + "defaultProvider: nobody.example\n"},
        "p.yaml:15: defaultProvider: 'nobody.example' is not the id of any provider",
    ),
    (
        "AC007",
        {
            "p.yaml": swap(
                GOOD, "    domains:\n      - a.example\n", "    domainsFile: list.txt\n"
            ),
            "list.txt": "ok.example\nbad..example\n",
        },
        "list.txt:2: providers[0].domainsFile: 'bad..example': 'bad..example' is not a valid "
        "domain name",
    ),
    (
        "AC008",
        {
            "p.yaml": GOOD
            + GOOD.split("providers:\n", 1)[1].replace("id: a.example", "id: b.example")
        },
        "p.yaml:18: providers[1].domains[0]: a.example is already listed at "
        "providers[0].domains[0] (line 5)",
    ),
    (
        "AC008",
        {"p.yaml": GOOD + GOOD.split("providers:\n", 1)[1].replace("- a.example", "- b.example")},
        "p.yaml:15: providers[1].id: 'a.example' is already the id of providers[0]",
    ),
    (
        "AC009",
        {"p.yaml": "include: other.yaml\n", "other.yaml": GOOD + "defaultProvider: a.example\n"},
        "other.yaml:15: defaultProvider: is only allowed in the main file",
    ),
    (
        "AC009",
        {"p.yaml": GOOD + "include: p.yaml\n"},
        "p.yaml:15: include: an include loop: p.yaml -> p.yaml",
    ),
    (
        "AC009",
        {"p.yaml": GOOD + "    redirectUrl: https://x.example/\n    redirectAddr: joe@x.example\n"},
        "p.yaml:16: providers[0].redirectAddr: cannot be combined with redirectUrl",
    ),
    (
        "AC009",
        {"p.yaml": with_incoming("authentication: none")},
        "p.yaml:10: providers[0].incoming[0].authentication: none is only possible for outgoing "
        "servers",
    ),
]


def errors_of(tmp_path: Path, files: dict[str, str | bytes]) -> list[Diagnostic]:
    for name, content in files.items():
        target = tmp_path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigInvalid) as info:
        load_config(Path("p.yaml"))
    return info.value.errors


@pytest.mark.parametrize(("code", "files", "expected"), CASES)
def test_each_error_code_comes_from_a_real_broken_file(
    tmp_path, monkeypatch, code, files, expected
):
    monkeypatch.chdir(tmp_path)
    errors = errors_of(tmp_path, files)
    found = [error for error in errors if str(error).startswith(expected)]
    assert found, "\n".join(str(error) for error in errors)
    (error,) = found
    assert (error.code, error.severity) == (code, Severity.ERROR)
    assert error.as_dict() == {
        "file": error.file,
        "line": error.line,
        "path": error.path,
        "code": code,
        "message": error.message,
    }


WARNING_CASES: list[tuple[str, str]] = [
    (
        "AC101",
        swap(GOOD, "port: 993\n        socketType: SSL", "port: 143\n        socketType: plain"),
    ),
    (
        "AC102",
        swap(GOOD, "port: 993\n        socketType: SSL", "port: 993\n        socketType: STARTTLS"),
    ),
    (
        "AC103",
        swap(GOOD, "port: 465\n        socketType: SSL", "port: 25\n        socketType: STARTTLS"),
    ),
    ("AC104", swap(GOOD, "type: imap", "type: pop3")),
    ("AC105", with_incoming("authentication: OAuth2")),
    (
        "AC106",
        swap(GOOD, "      - a.example\n", "      - a.example\n      - b.example\n").replace(
            "        port: 993\n", "        port: 993\n        username: '%EMAILLOCALPART%'\n"
        ),
    ),
    (
        "AC107",
        swap(GOOD, "      - a.example\n", '      - "*.a.example"\n')
        + GOOD.split("providers:\n", 1)[1]
        .replace("id: a.example", "id: b.example")
        .replace("- a.example", "- www.a.example"),
    ),
    ("AC108", GOOD + "defaultProvider: a.example\n"),
    ("AC109", GOOD + "include: providers.d/*.yaml\n"),
]


@pytest.mark.parametrize(("code", "text"), WARNING_CASES)
def test_each_warning_code_comes_from_a_real_file(tmp_path, code, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    warnings = lint(load_config(path))
    assert code in {warning.code for warning in warnings}
    assert {warning.severity for warning in warnings} == {Severity.WARNING}


async def test_an_unexpected_reload_failure_has_its_code(tmp_path):
    def broken_builder(path: Path) -> tuple:
        raise RuntimeError("boom")

    state = ConfigState(Catalog.from_config(load_config(BUNDLED)), BUNDLED)
    reloader = Reloader(state, builder=broken_builder)
    assert not await reloader.reload_once()
    assert state.last_failure is not None
    (error,) = state.last_failure.errors
    assert error.code == diagnostics.RELOAD_FAILED
    assert str(error) == f"{BUNDLED}: reload failed unexpectedly: RuntimeError('boom')"


def test_every_code_has_a_case():
    covered = {code for code, _, _ in CASES} | {code for code, _ in WARNING_CASES}
    assert covered | {diagnostics.RELOAD_FAILED} == set(CODES)


def test_codes_are_unique_and_errors_and_warnings_keep_their_ranges():
    named = [
        value
        for name, value in vars(diagnostics).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"AC\d{3}", value)
    ]
    assert len(named) == len(set(named)), "two names share a code"
    assert set(named) == {code for code in CODES if code < "AC100"}
    assert all(re.fullmatch(r"AC(0\d\d|1\d\d)", code) for code in CODES)
    assert len(set(CODES.values())) == len(CODES), "two codes share a title"


def readme_codes(heading: str) -> list[str]:
    """The codes in the table of one README section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n### {heading}\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| (AC\d{3}) \|", section, re.M)


def test_every_code_is_documented_once_in_the_readme_tables():
    errors, warnings = readme_codes("Errors"), readme_codes("Warnings")
    assert errors == sorted(code for code in CODES if code < "AC100")
    assert warnings == sorted(code for code in CODES if code > "AC100")


def test_text_forms_are_the_ones_admins_read():
    assert str(Diagnostic("p.yaml", None, "providers", "AC005", "is missing")) == (
        "p.yaml: providers: is missing"
    )
    assert str(Diagnostic("p.yaml", None, "", "AC001", "cannot be read: gone")) == (
        "p.yaml: cannot be read: gone"
    )
    assert str(Diagnostic("p.yaml", 3, "providers[0].id", "AC005", "is missing")) == (
        "p.yaml:3: providers[0].id: is missing"
    )
    warning = Diagnostic(
        "p.yaml", 7, "providers[0].incoming", "AC104", "only POP3", Severity.WARNING
    )
    assert str(warning) == "p.yaml:7: providers[0].incoming: AC104 only POP3"


def test_json_errors_and_warnings_have_the_same_keys_in_the_same_order(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(swap(GOOD, "port: 993", "port: 70000"))
    warned = tmp_path / "warned.yaml"
    warned.write_text(swap(GOOD, "type: imap", "type: pop3"))
    errors = json.loads(run_check(str(broken), "--format", "json").stdout)["errors"]
    warnings = json.loads(run_check(str(warned), "--format", "json").stdout)["warnings"]
    assert errors and warnings
    keys = ["file", "line", "path", "code", "message"]
    assert [list(entry) for entry in errors + warnings] == [keys] * len(errors + warnings)
    assert errors[0] == {
        "file": str(broken),
        "line": 9,
        "path": "providers[0].incoming[0].port",
        "code": "AC007",
        "message": "70000 is not a port (1-65535)",
    }
    assert warnings[0]["code"] == "AC104"


SORTED_MAIN = """\
defaultProvider: nobody.test
include: sub.yaml
providers:
  - id: acme.test
    displayName: Acme
    domains: [acme.test]
    incoming:
      - {type: imap, hostname: -bad-, port: 70000, socketType: ssl}
    outgoing:
      - {hostname: smtp.acme.test, socketType: SSL}
    colour: blue
"""
SORTED_SUB = """\
providers:
  - id: sub.test
    displayName: Sub
    domains: [sub.test]
    incoming:
      - {type: imap, hostname: imap.sub.test, port: 0, socketType: SSL}
    outgoing:
      - {hostname: smtp.sub.test, socketType: SSL}
"""


def test_check_lists_errors_by_file_in_reading_order_then_by_line(tmp_path):
    """The main file's `defaultProvider` (line 1) is checked last, and the include is read
    before the main file's last key (line 11): the report is still in file and line order, and
    the three errors of line 8 keep the order they were found in."""
    main = tmp_path / "providers.yaml"
    main.write_text(SORTED_MAIN)
    (tmp_path / "sub.yaml").write_text(SORTED_SUB)
    text = run_check(str(main))
    assert text.returncode == 1
    places = [line.split(": ", 2)[:2] for line in text.stderr.splitlines()]
    sub = str(tmp_path / "sub.yaml")
    assert places == [
        [f"{main}:1", "defaultProvider"],
        [f"{main}:8", "providers[0].incoming[0].hostname"],
        [f"{main}:8", "providers[0].incoming[0].socketType"],
        [f"{main}:8", "providers[0].incoming[0].port"],
        [f"{main}:11", "providers[0].colour"],
        [f"{sub}:6", "providers[0].incoming[0].port"],
    ]
    report = json.loads(run_check(str(main), "--format", "json").stdout)
    assert [f"{e['file']}:{e['line']}: {e['path']}" for e in report["errors"]] == [
        ": ".join(place) for place in places
    ]


def test_check_lists_warnings_by_line(tmp_path):
    """AC104 is about the `incoming` key (line 6), AC102 about a port below it (line 9)."""
    path = tmp_path / "p.yaml"
    path.write_text(
        swap(GOOD, "port: 993\n        socketType: SSL", "port: 993\n        socketType: STARTTLS")
        .replace("type: imap", "type: pop3")
        .replace("port: 993", "port: 995")
    )
    done = run_check(str(path))
    assert done.returncode == 0
    assert [line.split(": ")[0:3:2] for line in done.stderr.splitlines()] == [
        [f"{path}:6", "AC104 only POP3 is offered"],
        [f"{path}:9", "AC102 port 995 is for implicit TLS (socketType SSL), not STARTTLS"],
    ]
