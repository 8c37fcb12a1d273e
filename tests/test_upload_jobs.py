"""Imports as jobs in the database: confirmed on any host, followed by polling, taken over when the
worker running them dies, always reporting the true outcome (portal/importers/jobs.py)."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.database import utcnow
from portal.extensions import db as _db
from portal.models import ImportBatch, Result, UploadJob
from test_import_files import DATA
from test_import_upload import confirm_form, page_text, upload, world  # noqa: F401  (fixture)

pytestmark = pytest.mark.app_config(IMPORT_INLINE_ROWS=0)  # every import here runs as a job


def _wait_for_jobs(timeout=60):
    """Join this process's import threads (they end soon after the job's page says it is over)."""
    for thread in threading.enumerate():
        if thread.name.startswith("upload-job-"):
            thread.join(timeout)


def _follow(client, url, timeout=60):
    """Poll a job page as a browser without JavaScript would (its page refreshes itself)."""
    deadline = time.monotonic() + timeout
    while True:
        _db.session.rollback()  # a new snapshot, as each real request has its own session
        response = client.get(url)
        if response.status_code != 200 or "正在" not in page_text(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _job(token):
    _db.session.rollback()
    return _db.session.execute(select(UploadJob).where(UploadJob.token == token)).scalar()


def test_a_large_file_runs_as_a_job_and_its_page_leads_to_the_result(client, world, login):
    login(client, world["clerk"])
    fields = confirm_form(upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes()))
    response = client.post("/admin/uploads/confirm", data={**fields, "publish": "1"})
    assert response.status_code == 303
    job_url = response.headers["Location"]
    assert job_url == f"/admin/uploads/jobs/{fields['run']}"
    response = _follow(client, job_url)
    _wait_for_jobs()
    assert response.status_code == 303 and response.headers["Location"].startswith("/admin/uploads/")
    text = page_text(client.get(response.headers["Location"]))
    assert "已导入检查结果文件“r.csv”：新增 2，更新 0，未变化 0，发布 2" in text
    job = _job(fields["run"])
    assert (job.state, job.done, job.total, job.attempts) == ("done", 2, 2, 1)
    assert job.batch_id == _db.session.execute(select(ImportBatch.id)).scalar()
    # htmx asks for the component: it gets the outcome and is sent to the result page.
    response = client.get(job_url, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/admin/uploads/{job.batch_id}"
    assert "导入完成：新增 2，更新 0，未变化 0，发布 2" in page_text(response)


def test_htmx_confirm_is_sent_to_the_job_page(client, world, login):
    login(client, world["clerk"])
    fields = confirm_form(upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes()))
    response = client.post("/admin/uploads/confirm", data=fields, headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/admin/uploads/jobs/{fields['run']}"
    _follow(client, response.headers["HX-Redirect"])
    _wait_for_jobs()
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 2


def test_running_job_page_polls_itself_and_refreshes_without_javascript(client, world, login):
    login(client, world["clerk"])
    fields = confirm_form(upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes()))
    job = _job(fields["run"])
    # Another host's worker is importing it right now (its heartbeat is fresh): shown, not taken over.
    job.state, job.owner, job.heartbeat_at, job.done, job.total = "running", "host-b:4242:abcd", utcnow(), 0, 2
    _db.session.commit()
    url = f"/admin/uploads/jobs/{fields['run']}"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    assert "正在校验并导入……（共 2 行）" in page_text(page) and f'href="{url}"' in html
    fragment = client.get(url, headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<section class="admin-panel" id="upload-job"')
    assert f'hx-get="{url}" hx-trigger="load delay:1s" hx-swap="outerHTML"' in body
    assert "<html" not in body
    job = _job(fields["run"])
    job.done = 1
    _db.session.commit()
    assert "正在写入：已处理 1 / 2 行" in page_text(client.get(url))
    # The clerk who left the page finds the import again on the upload page.
    uploads = client.get("/admin/uploads")
    assert "我的导入任务 r.csv （检查结果，2 行）：正在导入，已处理 1 行" in page_text(uploads)
    assert f'href="{url}"' in uploads.get_data(as_text=True)
    assert _job(fields["run"]).owner == "host-b:4242:abcd"
    # A second click on 确认导入 while it runs starts nothing new: it follows the running job.
    response = client.post("/admin/uploads/confirm", data=fields)
    assert response.status_code == 303 and response.headers["Location"] == url
    assert _job(fields["run"]).attempts == 0


def test_a_job_whose_worker_died_is_taken_over_by_the_next_request(client, world, login, app):
    login(client, world["clerk"])
    fields = confirm_form(upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes()))
    job = _job(fields["run"])
    stale = utcnow() - timedelta(seconds=app.config["IMPORT_JOB_STALE_SECONDS"] + 1)
    # A worker claimed it, then was recycled mid-import: its transaction rolled back, its heartbeat stopped.
    job.state, job.owner, job.heartbeat_at, job.attempts, job.done = "running", "host-a:1:dead", stale, 1, 250
    _db.session.commit()
    response = _follow(client, f"/admin/uploads/jobs/{fields['run']}")
    _wait_for_jobs()
    assert response.status_code == 303
    assert "新增 2，更新 0，未变化 0" in page_text(client.get(response.headers["Location"]))
    job = _job(fields["run"])
    assert (job.state, job.attempts) == ("done", 2) and job.owner != "host-a:1:dead"
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 2
    assert _db.session.execute(select(func.count()).select_from(ImportBatch)).scalar() == 1


def test_a_rejected_job_says_why_and_wrote_nothing(client, world, login):
    from portal.models import Entity
    from test_import_files import corpus

    _db.session.add(Entity(uscc=corpus.WRONG_CHECK, name="校验位异常公司", entity_type="企业", region_code="411421"))
    _db.session.commit()
    login(client, world["clerk"])
    fields = confirm_form(upload(client, "w.csv", data=(DATA / "results_warn_uscc_checksum.csv").read_bytes()))
    response = client.post("/admin/uploads/confirm", data=fields)  # warnings not accepted
    response = _follow(client, response.headers["Location"])
    _wait_for_jobs()
    assert response.status_code == 200
    text = page_text(response)
    assert "导入未完成：文件有警告，请确认后再导入。未写入任何数据。" in text
    assert "警告" in text and "修改后重新上传" in text
    assert _job(fields["run"]).state == "rejected"
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 0
    # Confirmed again with the warnings accepted, the same stored upload imports.
    response = client.post("/admin/uploads/confirm", data={**fields, "accept_warnings": "1"})
    response = _follow(client, response.headers["Location"])
    _wait_for_jobs()
    assert response.status_code == 303
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 1


def test_someone_elses_job_is_not_found(client, world, login):
    import factories as f

    login(client, world["clerk"])
    fields = confirm_form(upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes()))
    other = f.user("clerk", department=world["dept"], username="clerk-mq-2")
    _db.session.commit()
    client.post("/admin/logout", data={"csrf_token": fields["csrf_token"]})
    login(client, other)
    assert client.get(f"/admin/uploads/jobs/{fields['run']}").status_code == 404
    assert client.get("/admin/uploads/jobs/not-a-token").status_code == 404
    response = client.post("/admin/uploads/confirm", data=fields)
    assert response.status_code in (400, 404)  # the session's CSRF token, or the upload: not theirs
    assert _job(fields["run"]).state == "previewed"
