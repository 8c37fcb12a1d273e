"""Sign-in throttling against a real gunicorn server with several worker processes."""
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import func, select

import factories as f
from portal.models import SigninEvent
from servers import gunicorn_server


def _opener():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                       _NoRedirect())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _attempt(base_url, username, password):
    """A fresh browser (new connection, new cookies): lands on any worker."""
    opener = _opener()
    html = opener.open(base_url + "/admin/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
    try:
        with opener.open(base_url + "/admin/login", data=body) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_backoff_holds_across_gunicorn_workers(app, db, database_url, tmp_path):
    """Fresh connections land on any of three workers: the account+address back-off is shared."""
    f.user("clerk", username="target")
    db.session.commit()
    with gunicorn_server(database_url, tmp_path / "instance", workers=3) as base_url:
        statuses = [_attempt(base_url, "target", "wrong guess") for _ in range(4)]
        assert statuses == [200] * 4
        assert _attempt(base_url, "target", f.PASSWORD) == 429
        assert _attempt(base_url, "target", f.PASSWORD) == 429
    db.session.rollback()
    counts = dict(db.session.execute(select(SigninEvent.outcome, func.sum(SigninEvent.attempts))
                                     .group_by(SigninEvent.outcome)).all())
    assert {k.value: v for k, v in counts.items()} == {"failure": 4, "refused": 2}
