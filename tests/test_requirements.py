"""requirements.txt holds the runtime dependencies (each used), requirements-dev.txt the test tools;
`make test` installs both and `make run` only the runtime ones."""
import re
import subprocess
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
TEST_TOOLS = {"pytest", "playwright", "feedparser"}
# Direct runtime dependencies used without an import statement, and how they are used.
USED_WITHOUT_IMPORT = {
    "psycopg": "postgresql+psycopg:// database URLs",
    "psycopg-binary": "psycopg's C implementation",
    "gunicorn": "the WSGI server (gunicorn.conf.py)",
    "tzdata": "zoneinfo data for Asia/Shanghai",
    "defusedxml": "openpyxl hardens its XML parsing with it when installed",
}
IMPORT_NAMES = {"flask-sqlalchemy": "flask_sqlalchemy", "flask-migrate": "flask_migrate", "flask-login": "flask_login",
                "flask-wtf": "flask_wtf", "flask-htmx": "flask_htmx", "flask-limiter": "flask_limiter",
                "argon2-cffi": "argon2", "chinesecalendar": "chinese_calendar", "whoosh": "whoosh"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, dict]:
    """name -> {"version", "direct"} for every pin of a requirements file (sections by comment)."""
    pins, direct = {}, True
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# --- pulled in"):
            direct = False
        elif line.startswith("# --- direct"):
            direct = True
        body = line.split("#", 1)[0].strip()
        if not body or body.startswith("-r "):
            continue
        assert "==" in body, f"{path.name}: not pinned: {line}"
        requirement = Requirement(body)
        pins[_norm(requirement.name)] = {"version": str(requirement.specifier)[2:], "direct": direct}
    return pins


RUNTIME = _pins(ROOT / "requirements.txt")
DEV = _pins(ROOT / "requirements-dev.txt")


def _source_text() -> str:
    files = [*ROOT.glob("portal/**/*.py"), *ROOT.glob("migrations/**/*.py"), ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def _requires(name: str) -> set[str]:
    """Names a distribution needs on this platform (markers evaluated, extras ignored)."""
    needed = set()
    for text in metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            needed.add(_norm(requirement.name))
    return needed


def test_dev_file_includes_the_runtime_file_and_only_adds_test_tools():
    text = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert "-r requirements.txt" in text.splitlines()
    assert TEST_TOOLS <= {name for name, pin in DEV.items() if pin["direct"]}
    assert set(DEV) & set(RUNTIME) == set(), "pinned twice"


def test_no_test_tool_and_no_unused_package_in_the_runtime_file():
    assert TEST_TOOLS & set(RUNTIME) == set()
    assert "jieba" not in RUNTIME and "jieba" not in DEV
    assert "jieba" not in _source_text()


def test_every_direct_runtime_dependency_is_used():
    source = _source_text()
    unused = []
    for name, pin in RUNTIME.items():
        if not pin["direct"] or name in USED_WITHOUT_IMPORT:
            continue
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        if not re.search(rf"^\s*(from|import) {re.escape(module)}\b", source, re.M | re.I):
            unused.append(name)
    assert unused == []


def test_every_other_pin_is_needed_by_a_pinned_package_and_nothing_needed_is_missing():
    for pins, extra_roots in ((RUNTIME, {}), (DEV, RUNTIME)):
        everything = {**extra_roots, **pins}
        needed = set()
        for name in everything:
            needed |= _requires(name)
        unneeded = [name for name, pin in pins.items() if not pin["direct"] and name not in needed]
        missing = sorted(needed - set(everything) - {"pip", "setuptools"})
        assert unneeded == [] and missing == []


def test_pins_are_what_is_installed():
    """The shared environment runs exactly the pinned versions (else the tests test something else)."""
    wrong = {name: (pin["version"], metadata.version(name)) for name, pin in {**RUNTIME, **DEV}.items()
             if metadata.version(name) != pin["version"]}
    assert wrong == {}


def test_make_test_installs_both_files_and_make_run_only_the_runtime_file():
    def dry_run(target):
        return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout

    test_plan, run_plan = dry_run("test"), dry_run("run")
    assert "pip install --quiet -r requirements-dev.txt" in test_plan
    assert "requirements-dev.txt" not in run_plan and "pip install --quiet -r requirements.txt" in run_plan
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"DEV_STAMP\s*:=.*cat requirements.txt requirements-dev.txt", makefile)
    assert re.search(r"\$\(DEV_STAMP\): requirements.txt requirements-dev.txt", makefile)
