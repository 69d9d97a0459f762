"""`import-ispdb` and `export-ispdb` as an admin runs them: real processes, files and folders."""

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from .conftest import BUNDLED, DATA, ROOT, VARIED

SOURCE = DATA / "ispdb" / "servers.xml"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoconfig", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# --- import-ispdb -o ---------------------------------------------------------------------------


def test_import_refuses_to_overwrite_an_existing_file(tmp_path):
    target = tmp_path / "providers.yaml"
    target.write_text("# the admin's own file\n", encoding="utf-8")

    result = run("import-ispdb", str(SOURCE), "-o", str(target))

    assert result.returncode == 1
    no_traceback(result)
    assert f"autoconfig: {target} exists; give --force to replace it" in result.stderr
    assert target.read_text(encoding="utf-8") == "# the admin's own file\n"


def test_import_with_force_replaces_the_file_with_one_check_accepts(tmp_path):
    target = tmp_path / "providers.yaml"
    target.write_text("# the admin's own file\n", encoding="utf-8")

    result = run("import-ispdb", str(SOURCE), "-o", str(target), "--force")

    assert result.returncode == 0, result.stderr
    assert f"-> {target}" in result.stderr
    assert "the admin's own file" not in target.read_text(encoding="utf-8")
    checked = run("check", str(target))
    assert checked.returncode == 0, checked.stderr


def test_import_writes_a_new_file_without_force(tmp_path):
    target = tmp_path / "new.yaml"
    result = run("import-ispdb", str(SOURCE), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert run("check", str(target)).returncode == 0


@pytest.mark.parametrize("where", ["missing/providers.yaml", "a-folder"])
def test_import_into_a_missing_folder_or_onto_a_folder_is_a_clear_error(tmp_path, where):
    (tmp_path / "a-folder").mkdir()
    target = tmp_path / where

    result = run("import-ispdb", str(SOURCE), "-o", str(target), "--force")

    assert result.returncode == 1
    no_traceback(result)
    assert result.stderr.startswith("autoconfig: ")
    assert "nothing written" in result.stderr
    expected = "does not exist" if "missing" in where else "is a directory"
    assert expected in result.stderr
    assert not (tmp_path / "missing").exists()


# --- export-ispdb ------------------------------------------------------------------------------


def exported(folder: Path) -> dict[str, etree._Element]:
    return {p.name: etree.parse(str(p)).getroot() for p in sorted(folder.iterdir())}


def test_export_writes_no_file_for_a_redirect_only_provider_and_says_so(tmp_path):
    out = tmp_path / "ispdb"

    result = run("export-ispdb", "--config", str(VARIED), "-o", str(out))

    assert result.returncode == 0, result.stderr
    files = exported(out)
    assert sorted(files) == ["hoster.example.xml", "oauth.example.xml"]
    for root in files.values():
        provider = root.find("emailProvider")
        assert provider.find("incomingServer") is not None
        assert provider.find("outgoingServer") is not None
    assert "note: redirect.example: has no servers, so no file is written for it" in result.stderr
    assert "left out (no servers): redirect.example" in result.stderr
    assert f"wrote 2 files to {out}" in result.stderr


def test_export_takes_the_providers_file_as_a_positional_path_like_check(tmp_path):
    by_path = run("export-ispdb", str(VARIED), "-o", str(tmp_path / "a"))
    by_option = run("export-ispdb", "--config", str(VARIED), "-o", str(tmp_path / "b"))
    assert by_path.returncode == by_option.returncode == 0, by_path.stderr + by_option.stderr
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert a == b and "oauth.example.xml" in a
    bundled = run("export-ispdb", str(BUNDLED), "-o", str(tmp_path / "c"))
    assert bundled.returncode == 0
    assert "example.com.xml" in {p.name for p in (tmp_path / "c").iterdir()}


def test_export_onto_an_existing_file_is_a_clear_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("mine\n", encoding="utf-8")

    result = run("export-ispdb", str(VARIED), "-o", str(target))

    assert result.returncode == 1
    no_traceback(result)
    assert f"autoconfig: -o {target}: exists and is not a directory" in result.stderr
    assert target.read_text(encoding="utf-8") == "mine\n"


def test_export_of_only_redirects_writes_nothing(tmp_path):
    config = tmp_path / "providers.yaml"
    config.write_text(
        "providers:\n"
        "  - id: away.example\n"
        "    displayName: Away\n"
        "    domains: [away.example]\n"
        "    redirectUrl: https://autodiscover.other.example/autodiscover/autodiscover.xml\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"

    result = run("export-ispdb", str(config), "-o", str(out))

    assert result.returncode == 1
    assert "no provider has servers; nothing written" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_export_of_an_invalid_file_reports_its_errors(tmp_path):
    config = tmp_path / "providers.yaml"
    config.write_text("providers: {}\n", encoding="utf-8")
    result = run("export-ispdb", str(config), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    no_traceback(result)
    assert f"{config}:1:" in result.stderr
