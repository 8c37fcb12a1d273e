"""Real servers for tests: the app under gunicorn in a subprocess, and the `flask` CLI.

    from servers import gunicorn_server, flask_cli, free_port

    with gunicorn_server(database_url, instance_dir, workers=3) as base_url:
        urllib.request.urlopen(base_url + "/results")

Each server gets its own free port, its own instance folder (secret key, search index)
and the database you pass (a SQLite file URL or a PostgreSQL URL, e.g. the `database_url`
fixture). Server output goes to `<instance_dir>/gunicorn.log`; it is shown when the
server fails to start.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_SECRET = "test-secret-key-for-subprocess-servers"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, instance_dir, env: dict | None = None) -> dict:
    """The environment of a subprocess running the app on `database_url` with `instance_dir`."""
    result = dict(os.environ)
    result.update({
        "DATABASE_URL": str(database_url),
        "PORTAL_INSTANCE_PATH": str(instance_dir),
        "SEARCH_INDEX_DIR": str(Path(instance_dir) / "search-index"),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEFAULT_SECRET,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    result.pop("FLASK_APP", None)
    result.update({k: str(v) for k, v in (env or {}).items()})
    return result


def flask_cli(args, database_url: str, instance_dir, env: dict | None = None, timeout: float = 300,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi <args>` in a subprocess; raise with its output if it fails (check=True)."""
    Path(instance_dir).mkdir(parents=True, exist_ok=True)
    cmd = [PYTHON, "-m", "flask", "--app", "wsgi", *[str(a) for a in args]]
    proc = subprocess.run(cmd, cwd=ROOT, env=server_env(database_url, instance_dir, env), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`flask {' '.join(map(str, args))}` exited with {proc.returncode}\n"
                           f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc


def wait_until_up(base_url: str, proc: subprocess.Popen | None = None, timeout: float = 30, path: str = "/") -> None:
    """Poll `base_url + path` until the server answers with any HTTP status."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(base_url + path, timeout=5) as response:
                response.read()
            return
        except urllib.error.HTTPError:
            return  # it answered, even if with an error status
        except OSError as exc:  # connection refused, reset, timeout
            last_error = exc
            time.sleep(0.1)
    raise RuntimeError(f"server at {base_url} did not answer within {timeout} s: {last_error}")


def _stop(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@contextmanager
def gunicorn_server(database_url: str, instance_dir, workers: int = 3, env: dict | None = None,
                    timeout: float = 60, threads: int = 1, info: dict | None = None):
    """Serve the app with gunicorn (`workers` processes) on a free port; yield its base URL.

    `info`, if given, receives the master's process id as info["pid"] (to send it HUP, say).

    The database must already have its schema (run `flask_cli(["db", "upgrade"], …)` or
    `db.create_all()` first). The server is stopped (SIGTERM, then SIGKILL) on exit.
    """
    instance_dir = Path(instance_dir)
    instance_dir.mkdir(parents=True, exist_ok=True)
    log_path = instance_dir / "gunicorn.log"
    proc = None
    base_url = None
    for attempt in range(3):  # another process may grab the free port before gunicorn binds it
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        cmd = [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
               "--timeout", "120", "--graceful-timeout", "5", "wsgi:app"]
        log = open(log_path, "a", encoding="utf-8")
        try:
            # Feeds build absolute links from PUBLIC_BASE_URL: point it at this server.
            proc = subprocess.Popen(cmd, cwd=ROOT,
                                    env=server_env(database_url, instance_dir, {"PUBLIC_BASE_URL": base_url,
                                                                                **(env or {})}),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            log.close()
        try:
            wait_until_up(base_url, proc, timeout=timeout)
            break
        except RuntimeError as exc:
            _stop(proc)
            if attempt == 2 or "did not answer" in str(exc):
                raise RuntimeError(f"{exc}\n--- {log_path} ---\n{_tail(log_path)}") from None
    if info is not None:
        info["pid"] = proc.pid
    try:
        yield base_url
    finally:
        _stop(proc)


def prepare_demo_database(instance_dir, env: dict | None = None, size: str = "small", log=print) -> str:
    """Create `<instance_dir>/portal.db` with `flask db upgrade` and `flask demo load --size <size>`; return its URL.

    If the models have changed since the migration was written, the schema is rebuilt from the
    models before loading (and tests/test_migrations.py reports the drift).
    """
    instance_dir = Path(instance_dir)
    database_url = f"sqlite:///{instance_dir / 'portal.db'}"
    flask_cli(["db", "upgrade"], database_url, instance_dir, env=env)
    _prepare_helper("check-schema", database_url, instance_dir, env, log)
    flask_cli(["demo", "load", "--size", size], database_url, instance_dir, env=env)
    return database_url


def _prepare_helper(action, database_url, instance_dir, env, log):
    proc = subprocess.run([PYTHON, str(ROOT / "tests" / "browser" / "_prepare_db.py"), action], cwd=ROOT,
                          env=server_env(database_url, instance_dir, env), capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    if proc.stderr.strip():
        log(f"[demo] {action}: {proc.stderr.strip()[-3000:]}")
    if proc.returncode != 0:
        raise RuntimeError(f"_prepare_db.py {action} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
