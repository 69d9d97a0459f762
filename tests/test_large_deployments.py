"""Includes, domain-list files and the default provider: big configurations stay precise."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from autoconfig.config.diagnostics import ConfigInvalid
from autoconfig.config.loader import load_config
from autoconfig.web.app import AppOptions, create_app


def provider(pid: str, domains: str = "", extra: str = "") -> str:
    domain_line = f"    domains: {domains}\n" if domains else ""
    return (
        f"  - id: {pid}\n"
        f"    displayName: {pid}\n" + domain_line + extra + "    incoming:\n"
        f"      - {{type: imap, hostname: imap.{pid}, socketType: SSL}}\n"
        "    outgoing:\n"
        f"      - {{hostname: smtp.{pid}, socketType: SSL}}\n"
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigInvalid) as info:
        load_config(path)
    return [str(error) for error in info.value.errors]


def test_include_files_directories_and_globs(tmp_path):
    main = write(
        tmp_path,
        "providers.yaml",
        "include: [one.yaml, providers.d, more/*.yml]\nproviders:\n"
        + provider("main.example", "[main.example]"),
    )
    write(tmp_path, "one.yaml", "providers:\n" + provider("one.example", "[one.example]"))
    write(tmp_path, "providers.d/b.yaml", "providers:\n" + provider("b.example", "[b.example]"))
    write(tmp_path, "providers.d/a.yaml", "providers:\n" + provider("a.example", "[a.example]"))
    write(tmp_path, "providers.d/ignored.txt", "not yaml")
    write(tmp_path, "more/c.yml", "providers:\n" + provider("c.example", "[c.example]"))
    config = load_config(main)
    assert [p.id for p in config.providers] == [
        "main.example",
        "one.example",
        "a.example",
        "b.example",
        "c.example",
    ]
    assert {o.file for o in config.origins} == {
        str(main),
        str(tmp_path / "one.yaml"),
        str(tmp_path / "providers.d/a.yaml"),
        str(tmp_path / "providers.d/b.yaml"),
        str(tmp_path / "more/c.yml"),
    }
    assert tmp_path / "providers.d" in config.files


def test_errors_in_an_included_file_name_that_file_and_line(tmp_path):
    main = write(
        tmp_path,
        "providers.yaml",
        "include: sub.yaml\nproviders:\n" + provider("m.example", "[m.example]"),
    )
    sub_text = "providers:\n" + provider("s.example", "[s.example]").replace(
        "socketType: SSL}", "socketType: SSL, port: 0}", 1
    )
    sub = write(tmp_path, "sub.yaml", sub_text)
    assert errors_of(main) == [f"{sub}:6: providers[0].incoming[0].port: 0 is not a port (1-65535)"]


def test_duplicate_domain_across_files_names_both(tmp_path):
    main = write(
        tmp_path,
        "providers.yaml",
        "include: sub.yaml\nproviders:\n" + provider("m.example", "[m.example, shared.example]"),
    )
    sub = write(tmp_path, "sub.yaml", "providers:\n" + provider("s.example", "[shared.example]"))
    (message,) = errors_of(main)
    assert message.startswith(
        f"{sub}:4: providers[0].domains[0]: shared.example is already listed at"
    )
    assert f"{main}:5" in message


def test_missing_include_and_loops_are_errors(tmp_path):
    main = write(
        tmp_path,
        "providers.yaml",
        "include: [gone.yaml, loop.yaml]\nproviders:\n" + provider("m.example", "[m.example]"),
    )
    write(tmp_path, "loop.yaml", "include: providers.yaml\n")
    messages = errors_of(main)
    assert f"{main}:1: include[0]: {str(tmp_path / 'gone.yaml')!r} does not exist" in messages
    loop = tmp_path / "loop.yaml"
    assert f"{loop}:1: include: an include loop: {main} -> {loop} -> {main}" in messages


def test_default_provider_only_in_the_main_file_and_must_exist(tmp_path):
    main = write(
        tmp_path,
        "providers.yaml",
        "defaultProvider: nobody.example\ninclude: sub.yaml\nproviders:\n"
        + provider("m.example", "[m.example]"),
    )
    write(tmp_path, "sub.yaml", "defaultProvider: m.example\n")
    messages = errors_of(main)
    assert (
        f"{tmp_path / 'sub.yaml'}:1: defaultProvider: is only allowed in the main file" in messages
    )
    assert f"{main}:1: defaultProvider: 'nobody.example' is not the id of any provider" in messages


def test_domain_list_file(tmp_path):
    lines = [
        "# customers of the hoster",
        "",
        "Shop-One.example",
        "shop-two.example   # since 2024",
        "*.tenants.example",
    ]
    write(tmp_path, "customers.txt", "\n".join(lines) + "\n")
    main = write(
        tmp_path,
        "providers.yaml",
        "providers:\n"
        + provider("hoster.example", "[hoster.example]", "    domainsFile: customers.txt\n"),
    )
    (hoster,) = load_config(main).providers
    assert [str(d) for d in hoster.domains] == [
        "hoster.example",
        "shop-one.example",
        "shop-two.example",
        "*.tenants.example",
    ]
    assert hoster.exact_domains == ("hoster.example",), (
        "listed domains only: not 10,000 in every answer"
    )
    assert tmp_path / "customers.txt" in load_config(main).files


def test_domain_list_file_errors_name_its_lines(tmp_path):
    listing = write(tmp_path, "customers.txt", "ok.example\nbad domain.example\nm.example\n")
    main = write(
        tmp_path,
        "providers.yaml",
        "providers:\n" + provider("m.example", "[m.example]", "    domainsFile: customers.txt\n"),
    )
    messages = errors_of(main)
    assert any(
        m.startswith(f"{listing}:2: providers[0].domainsFile: 'bad domain.example'")
        for m in messages
    )
    assert any(
        m.startswith(f"{listing}:3: providers[0].domainsFile: m.example is already listed at")
        for m in messages
    )
    (tmp_path / "customers.txt").unlink()
    assert any("customers.txt' cannot be read" in m for m in errors_of(main))


async def test_domains_from_a_file_and_the_default_provider_are_served(tmp_path, aiohttp_client):
    write(tmp_path, "customers.txt", "customer.example\n")
    main = write(
        tmp_path,
        "providers.yaml",
        "defaultProvider: hoster.example\nproviders:\n"
        + provider("hoster.example", "[hoster.example]", "    domainsFile: customers.txt\n")
        + provider("other.example", "[other.example]"),
    )
    client = await aiohttp_client(create_app(AppOptions(config_path=main)))
    for domain, expected in [
        ("customer.example", "hoster.example"),
        ("other.example", "other.example"),
        ("anything-at-all.example", "hoster.example"),
    ]:
        response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": f"a@{domain}"})
        assert response.status == 200, domain
        root = etree.fromstring(await response.read())
        assert root.find("emailProvider").get("id") == expected
        assert domain in [d.text for d in root.iter("domain")]


def check(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`autoconfig check providers.yaml` run in `folder`, as an admin runs it there."""
    return subprocess.run(
        [sys.executable, "-m", "autoconfig", "check", "providers.yaml", *options],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


MAIN_PROVIDER = "providers:\n" + provider("m.example", "[m.example]")


def test_a_missing_include_is_reported_where_it_is_named(tmp_path):
    write(tmp_path, "providers.yaml", "include:\n  - one.yaml\n  - gone.yaml\n" + MAIN_PROVIDER)
    write(tmp_path, "one.yaml", "include: [sub/also-gone.yaml]\n")
    done = check(tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "providers.yaml:3: include[1]: 'gone.yaml' does not exist",
        "one.yaml:1: include[0]: 'sub/also-gone.yaml' does not exist",
    ]


def test_an_include_loop_is_shown_as_its_chain(tmp_path):
    write(tmp_path, "providers.yaml", "include: a.yaml\n" + MAIN_PROVIDER)
    write(tmp_path, "a.yaml", "include: b.yaml\n")
    write(tmp_path, "b.yaml", "providers: []\ninclude: [a.yaml]\n")
    done = check(tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "b.yaml:2: include[0]: an include loop: a.yaml -> b.yaml -> a.yaml"
    ]


def test_a_file_including_itself_is_a_loop_of_one(tmp_path):
    write(tmp_path, "providers.yaml", MAIN_PROVIDER + "include: providers.yaml\n")
    done = check(tmp_path)
    assert done.stderr.splitlines() == [
        "providers.yaml:9: include: an include loop: providers.yaml -> providers.yaml"
    ]


def test_a_glob_or_directory_that_matches_nothing_is_a_warning(tmp_path):
    write(tmp_path, "providers.yaml", "include: [conf.d/*.yaml, empty.d, more]\n" + MAIN_PROVIDER)
    (tmp_path / "empty.d").mkdir()
    write(tmp_path, "empty.d/notes.txt", "not included\n")
    write(tmp_path, "more/x.yml", "providers:\n" + provider("x.example", "[x.example]"))
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "providers.yaml:1: include[0]: AC109 'conf.d/*.yaml' matches no file: nothing is "
        "included from it",
        "providers.yaml:1: include[1]: AC109 'empty.d' holds no *.yaml or *.yml file: nothing "
        "is included from it",
    ]
    assert done.stdout == "providers.yaml: OK, 2 providers, 2 domains, 2 warnings\n"
    assert check(tmp_path, "--strict").returncode == 1
    report = json.loads(check(tmp_path, "--format", "json").stdout)
    assert [(w["code"], w["line"], w["path"]) for w in report["warnings"]] == [
        ("AC109", 1, "include[0]"),
        ("AC109", 1, "include[1]"),
    ]
    write(tmp_path, "conf.d/y.yaml", "providers:\n" + provider("y.example", "[y.example]"))
    write(tmp_path, "empty.d/z.yaml", "providers:\n" + provider("z.example", "[z.example]"))
    fixed = check(tmp_path)
    assert (fixed.returncode, fixed.stderr) == (0, "")
    assert fixed.stdout == "providers.yaml: OK, 4 providers, 4 domains\n"
