"""Settings: declared once in portal/config.py, documented once in README.md, read from the
environment only by the production Config, overridden per app by tests."""
import re
from pathlib import Path

import pytest

from conftest import make_app
from portal import config
from portal.config import Config, ConfigError, TestConfig

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_configuration_rows() -> list[str]:
    """The variable names (first cells) of the first table under "## Configuration"."""
    section = README.split("\n## Configuration\n", 1)[1]
    lines = section.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable |"))
    names = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        match = re.match(r"\| `([A-Z][A-Z0-9_]*)` \|", line)
        assert match, f"README configuration row without a `VARIABLE` first cell: {line}"
        names.append(match.group(1))
    return names


def test_every_setting_has_one_readme_row_and_every_row_a_setting():
    documented = _readme_configuration_rows()
    declared = [config.environment_name(name) for name in config.setting_names(Config)]
    assert sorted(set(documented)) == sorted(documented), "a variable has two README rows"
    assert sorted(set(declared) - set(documented)) == [], "settings in portal/config.py without a README row"
    assert sorted(set(documented) - set(declared)) == [], "README rows naming no setting of portal/config.py"


def test_test_config_only_changes_declared_settings():
    extra = set(config.setting_names(TestConfig)) - set(config.setting_names(Config)) - set(config.FIXED)
    assert extra == set()


def test_every_setting_reaches_the_app(tmp_path):
    app = make_app("sqlite://", tmp_path)
    missing = [name for name in config.setting_names(Config) if name not in app.config]
    assert missing == []


def test_environment_values_are_parsed_by_the_type_of_the_default(tmp_path):
    environ = {"PORTAL_INSTANCE_PATH": str(tmp_path), "SESSION_COOKIE_SECURE": "true", "PER_PAGE_MAX": "50",
               "SEARCH_LOCK_TIMEOUT": "2.5", "SITE_NAME": "测试平台", "MAX_UPLOAD_BYTES": "1024",
               "DATABASE_URL": "postgres://u@db/portal", "PORTAL_FIXED_NOW": "2026-01-01T00:00:00+00:00",
               "SECRET_KEY": "from-env", "RATELIMIT_ENABLED": "0"}
    values = config.load(Config, environ=environ)
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["PER_PAGE_MAX"] == 50
    assert values["SEARCH_LOCK_TIMEOUT"] == 2.5
    assert values["SITE_NAME"] == "测试平台"
    assert values["MAX_CONTENT_LENGTH"] == 1024
    assert values["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/portal"
    assert values["FIXED_NOW"] == "2026-01-01T00:00:00+00:00"
    assert values["SECRET_KEY"] == "from-env"
    assert values["RATELIMIT_ENABLED"] is False
    assert values["INSTANCE_PATH"] == str(tmp_path.resolve())


def test_defaults_derived_from_the_instance_folder(tmp_path):
    values = config.load(Config, environ={"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert values["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path.resolve() / 'portal.db'}"
    assert values["SEARCH_INDEX_DIR"] == str(tmp_path.resolve() / "search-index")
    secret = (tmp_path / "secret_key").read_text().strip()
    assert values["SECRET_KEY"] == secret and len(secret) == 64
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    again = config.load(Config, environ={"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert again["SECRET_KEY"] == secret  # generated once, then reused
    assert values["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    assert values["FEED_TAG_AUTHORITY"] == "127.0.0.1"


@pytest.mark.parametrize("name, raw", [("PER_PAGE_MAX", "many"), ("SESSION_COOKIE_SECURE", "maybe"),
                                       ("SEARCH_LOCK_TIMEOUT", "ten"), ("PUBLIC_BASE_URL", "gs.example.gov.cn")])
def test_a_bad_environment_value_names_the_variable(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=name):
        config.load(Config, environ={"PORTAL_INSTANCE_PATH": str(tmp_path), name: raw})


def test_test_config_reads_no_environment(tmp_path):
    environ = {"DATABASE_URL": "postgresql://elsewhere/db", "REDIS_URL": "redis://elsewhere", "SECRET_KEY": "env",
               "PORTAL_INSTANCE_PATH": "/nonexistent", "RATELIMIT_ENABLED": "true"}
    values = config.load(TestConfig, {"INSTANCE_PATH": str(tmp_path)}, environ=environ)
    assert values["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert values["REDIS_URL"] == "" and values["SECRET_KEY"] == "test-secret-key"
    assert values["RATELIMIT_ENABLED"] is False and values["TESTING"] is True


def test_overrides_accept_the_setting_or_the_environment_name(tmp_path):
    by_env_name = make_app("sqlite:////tmp/a.db", tmp_path, MAX_UPLOAD_BYTES=10, PORTAL_FIXED_NOW="x")
    assert by_env_name.config["MAX_CONTENT_LENGTH"] == 10 and by_env_name.config["FIXED_NOW"] == "x"
    assert by_env_name.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/a.db"
    by_setting = make_app("sqlite://", tmp_path, SQLALCHEMY_DATABASE_URI="sqlite:////tmp/b.db",
                          FEED_TAG_AUTHORITY="gs.example.gov.cn")
    assert by_setting.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/b.db"
    assert by_setting.config["FEED_TAG_AUTHORITY"] == "gs.example.gov.cn"


def test_the_test_suite_never_edits_os_environ():
    """Settings reach apps through create_app(); the environment is for deployments (and subprocesses)."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ\[[^\]]+\]\s*=|os\.environ\.(setdefault|update)\(|monkeypatch\.setenv", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
