"""Shell completion: the documented eval line in a real bash, argcomplete's protocol for zsh, and
a CLI that still works when argcomplete is not installed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

BIN = Path(sys.executable).parent
AUTOCONFIG = BIN / "autoconfig"
REGISTER = BIN / "register-python-argcomplete"


def bash_completions(line: str) -> list[str]:
    """What bash offers at the end of `line`, after the README's eval line, as bash's own
    completion machinery would call the registered function."""
    bash = shutil.which("bash")
    assert bash, "bash is part of the base system"
    words = line.split(" ")
    script = (
        'eval "$(register-python-argcomplete autoconfig)"\n'
        "complete -p autoconfig >&2\n"
        f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"_python_argcomplete autoconfig '{words[-1]}' '{words[-2]}'\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    assert "_python_argcomplete autoconfig" in result.stderr, "the eval line registers nothing"
    return [word.strip() for word in result.stdout.splitlines() if word.strip()]


def test_bash_completes_a_command_name():
    assert bash_completions("autoconfig ren") == ["render"]
    assert set(bash_completions("autoconfig ")) >= {"serve", "check", "render", "lookup", "dns"}


def test_bash_completes_render_targets_and_options():
    assert bash_completions("autoconfig render autod") == ["autodiscover-json"]
    assert "--against" in bash_completions("autoconfig check --ag")


def protocol_completions(line: str, shell: str, tmp_path: Path) -> str:
    """argcomplete's own protocol, as its zsh function speaks it ($BUFFER, $CURSOR)."""
    out = tmp_path / "completions"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": shell,
        "_ARGCOMPLETE_SUPPRESS_SPACE": "1",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }
    result = subprocess.run(
        [str(AUTOCONFIG)], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return out.read_text()


def test_zsh_gets_the_command_name_in_its_name_colon_description_form(tmp_path):
    answer = protocol_completions("autoconfig loo", "zsh", tmp_path)
    (candidate,) = answer.split("\v")
    assert candidate.partition(":")[0] == "lookup"


def test_without_argcomplete_a_completion_request_is_an_ordinary_run(tmp_path):
    """_ARGCOMPLETE set but argcomplete missing: the command runs as if nothing was asked."""
    code = (
        "import sys; sys.modules['argcomplete'] = None\n"
        "from autoconfig.cli import main\n"
        "sys.exit(main(['check']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": "autoconfig ch", "COMP_POINT": "13"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("providers.yaml: OK")


@pytest.mark.parametrize("command", [["check"], ["render", "thunderbird", "a@example.com"]])
def test_commands_run_unchanged_with_argcomplete_installed(command):
    assert REGISTER.exists(), "the test extra installs argcomplete"
    result = subprocess.run(
        [str(AUTOCONFIG), *command], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
