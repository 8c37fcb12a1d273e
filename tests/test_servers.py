"""tests/servers.py itself: gunicorn serves the app from the test database, on SQLite and PostgreSQL."""
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from servers import gunicorn_server


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Vary", ""), response.read().decode("utf-8")


def test_gunicorn_server_serves_the_app_with_several_workers(_schema, database_url, tmp_path):
    with gunicorn_server(database_url, tmp_path / "instance", workers=2) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(_get, [base_url + "/"] * 8))
    assert {status for status, _, _ in answers} == {200}
    assert all("双随机、一公开" in body for _, _, body in answers)
    assert all("HX-Request" in vary for _, vary, _ in answers)
    # Stopped on exit: nothing answers any more.
    try:
        urllib.request.urlopen(base_url + "/", timeout=5)
    except OSError as exc:
        assert "refused" in str(exc).lower()
    else:
        raise AssertionError("the server still answers after the context manager exited")
