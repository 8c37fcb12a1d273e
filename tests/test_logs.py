"""One log line per request with a request id (returned in X-Request-ID); errors with tracebacks."""
import logging
import re

import pytest

from conftest import make_app

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO portal\.request \[([0-9a-f]{32})\] "
                  r"GET /results 200 \d+\.\dms$", re.M)


@pytest.fixture
def logged_app(database_url, instance_dir, _schema):
    app = make_app(database_url, instance_dir, LOG_LEVEL="INFO")
    yield app
    logging.getLogger("portal").setLevel("WARNING")
    with app.app_context():
        from portal.extensions import db
        db.engine.dispose()


def _records(caplog, name="portal.request"):
    return [r for r in caplog.records if r.name == name]


def test_one_line_per_request_with_the_id_returned_to_the_client(logged_app, caplog, capsys):
    client = logged_app.test_client()
    with caplog.at_level(logging.INFO, logger="portal"):
        response = client.get("/results?q=secret-term")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [record] = _records(caplog)
    assert (record.request_id, record.method, record.path, record.status) == (request_id, "GET", "/results", 200)
    assert record.duration_ms >= 0
    # The line on stderr, as an operator reads it (no query string: search terms stay out of logs).
    err = capsys.readouterr().err
    assert LINE.search(err).group(1) == request_id
    assert "secret-term" not in err


@pytest.mark.parametrize("incoming, kept", [
    ("5f0c6d1e-9b7a-4c3e-8f21-0a9d8c7b6e5f", True),   # a UUID
    ("9d2e4b7f1a3c5e7d9f1b3d5f7a9c1e3b", True),       # nginx $request_id
    ("abc", False),                                     # too short
    ("x" * 129, False),                                 # too long
    ("bad id with spaces", False),
    ("evil\u2028forged", False),
    ("-starts-with-dash", False),
])
def test_an_incoming_request_id_is_kept_only_if_well_formed(logged_app, caplog, incoming, kept):
    client = logged_app.test_client()
    with caplog.at_level(logging.INFO, logger="portal"):
        response = client.get("/results", headers={"X-Request-ID": incoming})
    returned = response.headers["X-Request-ID"]
    if kept:
        assert returned == incoming
    else:
        assert returned != incoming and re.fullmatch(r"[0-9a-f]{32}", returned)
    assert _records(caplog)[-1].request_id == returned


def test_errors_are_logged_with_traceback_and_request_id(database_url, instance_dir, _schema, caplog, capsys):
    app = make_app(database_url, instance_dir, LOG_LEVEL="INFO")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page, not the exception

    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("kaboom in a view")

    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="portal"):
        response = client.get("/boom-for-test", headers={"X-Request-ID": "req-12345678"})
    logging.getLogger("portal").setLevel("WARNING")
    assert response.status_code == 500 and "服务器内部错误" in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == "req-12345678"
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.request_id == "req-12345678" and error.exc_info[0] is RuntimeError
    assert _records(caplog)[-1].status == 500
    err = capsys.readouterr().err
    assert "ERROR portal [req-12345678] Exception on /boom-for-test [GET]" in err
    assert "Traceback (most recent call last)" in err and "RuntimeError: kaboom in a view" in err
    _dispose(app)


def _dispose(app):
    with app.app_context():
        from portal.extensions import db
        db.engine.dispose()


def test_a_streamed_csv_is_logged_when_it_has_been_sent(logged_app, caplog):
    client = logged_app.test_client()
    with caplog.at_level(logging.INFO, logger="portal"):
        with client.get("/results.csv") as response:
            assert response.status_code == 200
            response.get_data()
            assert _records(caplog) == []  # not yet: the server has not closed the response
    [record] = _records(caplog)
    assert record.path == "/results.csv" and record.request_id == response.headers["X-Request-ID"]


def test_log_level_setting(database_url, instance_dir, _schema, caplog):
    app = make_app(database_url, instance_dir, LOG_LEVEL="WARNING")
    with caplog.at_level(logging.NOTSET):
        app.test_client().get("/results")
    assert _records(caplog) == []
    _dispose(app)
