"""README.md keeps up with the app: every public URL rule and every command is documented.

Add a new route or command and this fails until README.md mentions it.
"""
import re
from pathlib import Path

import click
import pytest

from portal import cli as portal_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# SPEC §10, as "group sub" paths (checked when registered).
SPEC_COMMANDS = ["db upgrade", "demo load", "users create", "import results", "import penalties", "import entities",
                 "import inspectors", "search sync", "search rebuild", "search verify", "deadlines report",
                 "draw verify", "audit verify"]

NOT_PUBLIC_PREFIXES = ("/admin", "/static")


def _readme_paths():
    """Every `/path` written in backticks in the README (query strings dropped)."""
    return {m.split("?", 1)[0].split("#", 1)[0] for m in re.findall(r"`(/[^`\s]*)`", README)}


def _rule_pattern(rule: str) -> re.Pattern:
    """A URL rule as a regex over documented paths.

    `<any(json,csv):fmt>` must be spelt out (`/results.json`); any other variable matches a
    placeholder such as `<id>` or a concrete value (`/feeds/<kind>.rss` documents `/feeds/<kind>.<fmt>`).
    """
    parts = []
    for literal, converter in re.findall(r"([^<]*)(<[^>]*>)?", rule):
        parts.append(re.escape(literal))
        if converter:
            choices = re.match(r"<any\(([^)]*)\):\w+>", converter)
            if choices:
                parts.append("(" + "|".join(re.escape(c.strip().strip("'\"")) for c in choices.group(1).split(",")) + ")")
            else:
                parts.append(r"(<[^>/]*>|[^/.<>]+)")
    return re.compile("".join(parts).rstrip("/") + "/?")


def _readme_mentions_command(path: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(path) + r"(?![\w-])", README) is not None


def _registered_commands(app):
    """Every "group sub" path of the app's own command modules (not Flask's built-ins)."""
    ctx = click.Context(app.cli)
    found = []
    for module_name in portal_cli.COMMAND_MODULES:
        module = __import__(module_name, fromlist=["command"])
        command = module.command
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                if not command.get_command(ctx, sub).hidden:
                    found.append(f"{command.name} {sub}")
        else:
            found.append(command.name)
    return found


def _public_rules(app):
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if not rule.rule.startswith(NOT_PUBLIC_PREFIXES) and "GET" in rule.methods})


def test_every_public_url_rule_is_in_the_readme(app):
    documented = _readme_paths()
    missing = [rule for rule in _public_rules(app)
               if not any(_rule_pattern(rule).fullmatch(path) for path in documented)]
    assert missing == [], f"README.md does not mention these public URLs (in `backticks`): {missing}"


def test_every_command_is_in_the_readme(app):
    commands = _registered_commands(app)
    assert commands, "no commands registered?"
    missing = [c for c in commands if not _readme_mentions_command(c)]
    assert missing == [], f"README.md does not mention these `flask --app wsgi …` commands: {missing}"


@pytest.mark.parametrize("path", SPEC_COMMANDS)
def test_spec_commands_that_exist_are_in_the_readme(app, path):
    group_name, _, sub = path.partition(" ")
    ctx = click.Context(app.cli)
    group = app.cli.get_command(ctx, group_name)
    if group is None or (isinstance(group, click.Group) and group.get_command(ctx, sub) is None):
        return  # not built (yet): nothing to document
    assert _readme_mentions_command(path), f"README.md does not mention `flask --app wsgi {path}`"


def test_readme_covers_setup_configuration_and_deployment():
    for text in ["make run", "make test", "127.0.0.1:5000", "gunicorn -c gunicorn.conf.py wsgi:app",
                 "flask --app wsgi db upgrade", "docs/screenshot.png"]:
        assert text in README, text
    # Every setting's README row: tests/test_config.py.


def test_readme_screenshot_is_small_enough_to_commit():
    shot = ROOT / "docs" / "screenshot.png"
    assert shot.exists(), "docs/screenshot.png is missing: run `make screenshot`"
    assert shot.stat().st_size < 300_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ci_script_is_executable_strict_bash():
    import os
    import subprocess

    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run must be executable (git keeps the mode)"
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(script)], check=True)
    for target in ("make test", "make test-pg", "make test-browser"):
        assert target in text
