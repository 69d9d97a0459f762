"""The serve options are declared once (autoconfig/options.py): the README's table, the command
line, the environment and the options objects the server runs with must all say the same."""

import dataclasses
from pathlib import Path

import pytest

from autoconfig.cli import build_parser
from autoconfig.options import CONFIG, SERVE_OPTIONS, Kind, app_options_from_env, options_of
from autoconfig.server import ServerOptions
from autoconfig.web.app import AppOptions
from autoconfig.web.observe import AddressLogging, LogFormat, ObserveSettings

from .conftest import DATA, ROOT

DOCUMENTED = [option for option in (CONFIG, *SERVE_OPTIONS) if option.kind is not Kind.HIDDEN]
SAMPLES = {
    "--config": ("/etc/autoconfig/p.yaml", Path("/etc/autoconfig/p.yaml")),
    "--host": ("0.0.0.0", "0.0.0.0"),
    "--port": ("8443", 8443),
    "--workers": ("3", 3),
    "--tls-cert": ("/etc/tls/chain.pem", Path("/etc/tls/chain.pem")),
    "--tls-key": ("/etc/tls/key.pem", Path("/etc/tls/key.pem")),
    "--http-port": ("8081", 8081),
    "--metrics-port": ("9100", 9100),
    "--public-url": ("https://auto.example.net", "https://auto.example.net"),
    "--trusted-proxy": ("10.0.0.0/8, 192.0.2.1", ("10.0.0.0/8", "192.0.2.1")),
    "--access-log": ("json", LogFormat.JSON),
    "--log-addresses": ("hash", AddressLogging.HASH),
    "--log-hash-key": ("s3cret", b"s3cret"),
    "--log-hash-key-file": (str(DATA / "hash.key"), b"file-held-key"),
    "--log-level": ("warning", "warning"),
    "--rate-limit": ("2.5", 2.5),
    "--rate-burst": ("7", 7.0),
    "--client-timeout": ("4", 4.0),
    "--shutdown-timeout": ("3", 3.0),
    "--drain-delay": ("1.5", 1.5),
    "--profile-cert": ("/etc/p/chain.pem", Path("/etc/p/chain.pem")),
    "--profile-key": ("/etc/p/key.pem", Path("/etc/p/key.pem")),
    "--no-settings-page": ("yes", False),
    "--no-watch": ("1", False),
    "--poll-interval": ("0.5", 0.5),
}
"""A value for each option as an environment variable gives it, and the field value it means."""
OTHERS = {
    "--access-log": "common",
    "--log-addresses": "full",
    "--log-level": "error",
    "--log-hash-key-file": str(DATA / "hash.key"),
}
"""A valid value other than the sample, for options whose values are few."""


def _readme_table() -> list[tuple[str, ...]]:
    readme = (ROOT / "README.md").read_text()
    header = "| Option | Environment variable | Default | Meaning |"
    table = readme[readme.index(header) :].split("\n\n", 1)[0].splitlines()[2:]
    rows = []
    for line in table:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2], cells[3]))
    return rows


def test_the_readme_table_is_the_declaration_row_for_row():
    declared = [
        (option.flag, option.variable, option.shown_default, option.help) for option in DOCUMENTED
    ]
    assert _readme_table() == declared


def _field(app: AppOptions, server: ServerOptions, target: str) -> object:
    group, _, name = target.partition(".")
    holder = {"app": app, "server": server, "observe": app.observe}[group]
    return getattr(holder, name)


@pytest.mark.parametrize("option", DOCUMENTED, ids=lambda option: option.flag)
def test_each_variable_reaches_the_fields_it_declares(option, monkeypatch):
    text, expected = SAMPLES[option.flag]
    monkeypatch.setenv(option.variable, text)
    app, server = options_of(build_parser().parse_args(["serve"]))
    for target in option.into:
        assert _field(app, server, target) == expected, target


@pytest.mark.parametrize(
    "option", [o for o in DOCUMENTED if o.kind is Kind.VALUE], ids=lambda o: o.flag
)
def test_the_flag_beats_the_variable(option, monkeypatch):
    text, expected = SAMPLES[option.flag]
    monkeypatch.setenv(option.variable, OTHERS.get(option.flag, "1"))
    app, server = options_of(build_parser().parse_args(["serve", option.flag, text]))
    for target in option.into:
        assert _field(app, server, target) == expected, target


def test_without_anything_the_options_are_the_documented_defaults(monkeypatch):
    for option in DOCUMENTED:
        monkeypatch.delenv(option.variable, raising=False)
    app, server = options_of(build_parser().parse_args(["serve"]))
    assert server == ServerOptions()
    assert dataclasses.replace(app, observe=ObserveSettings(), reload_on_sighup=False) == (
        AppOptions(watch=True, body_timeout=15.0)
    )
    assert app.reload_on_sighup and app.metrics_on_main_port


def test_every_field_of_the_options_objects_is_set_by_an_option_or_derived():
    """A new field must get an option (or a reason it has none)."""
    declared = {target for option in (CONFIG, *SERVE_OPTIONS) for target in option.into}
    derived = {"app.observe", "app.reload_on_sighup", "app.metrics_on_main_port"}
    fields = {
        f"{group}.{field.name}"
        for group, cls in (
            ("app", AppOptions),
            ("server", ServerOptions),
            ("observe", ObserveSettings),
        )
        for field in dataclasses.fields(cls)
        if field.name != "writer"
    }
    assert fields == declared | derived


def test_gunicorn_takes_the_environment_and_leaves_sighup_to_gunicorn(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOCONFIG_CONFIG", str(tmp_path / "p.yaml"))
    monkeypatch.setenv("AUTOCONFIG_METRICS_PORT", "9100")
    monkeypatch.setenv("AUTOCONFIG_TRUSTED_PROXY", "10.1.2.3")
    options = app_options_from_env()
    assert options.config_path == tmp_path / "p.yaml"
    assert options.trusted_proxies == ("10.1.2.3",)
    assert not options.reload_on_sighup
    assert not options.metrics_on_main_port
    assert options.watch
