"""The upload pages: template download, upload → preview → confirm → result, history, access rules."""
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

import factories as f
from conftest import extract_csrf
from portal.extensions import db as _db
from portal.models import ImportBatch, Result, Status
from test_import_files import DATA, DRAWN_AT, NOW, corpus, table_counts


@pytest.fixture
def world(app, set_now):
    set_now(NOW)
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept = f.department(code="MQ01", name="民权县市场监督管理局")
    entities = [f.entity(uscc=u, name=f"民权县测试商贸有限公司{i}") for i, u in enumerate(corpus.ENTITY_USCC, 1)]
    inspectors = [f.inspector(dept, licence_no=lic) for lic in corpus.LICENCES]
    task = f.task(dept, code=corpus.TASK)
    f.draw(task, entities[:2], inspectors, drawn_at=DRAWN_AT)
    clerk = f.user("clerk", department=dept, username="clerk-mq")
    _db.session.commit()
    return {"dept": dept, "task": task, "clerk": clerk}


@pytest.fixture
def other(world):
    return f.user("clerk", username="clerk-other")


@pytest.fixture
def admin(world):
    return f.user("admin", username="boss")


@pytest.fixture
def auditor(world):
    return f.user("auditor", username="reader")


def page_text(response):
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def upload(client, name, kind="results", data=None, **extra):
    token = extract_csrf(client.get("/admin/uploads").get_data(as_text=True))
    body = data if data is not None else (DATA / name).read_bytes()
    form = {"csrf_token": token, "kind": kind, "file": FileStorage(io.BytesIO(body), filename=name), **extra}
    # Encode in memory: the test client's own encoder spools big bodies to a file it never closes.
    boundary, payload = encode_multipart(form)
    return client.post("/admin/uploads", data=payload, content_type=f"multipart/form-data; boundary={boundary}")


def confirm_form(response):
    html = response.get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', html))
    return fields


@pytest.mark.parametrize("url", ["/admin/uploads", "/admin/uploads/history", "/admin/uploads/templates/results.csv",
                                 "/admin/uploads/1", "/admin/uploads/progress/" + "0" * 64 + "/" + "1" * 16])
def test_anonymous_is_sent_to_login(client, app, url):
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_templates_have_chinese_headers_and_an_example(client, world, login):
    login(client, world["clerk"])
    response = client.get("/admin/uploads/templates/results.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff任务编号,统一社会信用代码,检查对象名称,检查事项,检查日期,检查结果,结果说明,结果形成日期,后续处置,执法人员\r\n")
    assert len(text.strip().split("\r\n")) == 2
    response = client.get("/admin/uploads/templates/penalties.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert client.get("/admin/uploads/templates/nope.csv").status_code == 404
    # A downloaded template (example row replaced) imports cleanly: the headers match the reader.
    from portal.importers import build_preview
    preview = build_preview("penalties", response.data, "t.xlsx", world["dept"], __import__("datetime").date(2025, 7, 1))
    assert not preview.file_problems


def test_gbk_upload_with_mistakes_then_corrected_file_then_confirm(client, world, login):
    login(client, world["clerk"])
    before = table_counts()
    bad = (DATA / "results_ok_gbk.csv").read_bytes().decode("gbk").replace("2025-04-08", "2025-02-30", 1) \
        .replace(",C01,", ",C99,", 1)
    response = upload(client, "结果.csv", data=bad.encode("gbk"))
    assert response.status_code == 422
    text = page_text(response)
    assert "文件中有 2 个错误，未导入任何数据" in text
    assert "2 检查日期 错误 “2025-02-30”不是有效日期（2025年没有2月30日）" in text
    assert "2 检查结果 错误 未知的检查结果“C99”" in text
    assert 'name="sha256"' not in response.get_data(as_text=True)  # no confirm form
    assert table_counts() == before

    response = upload(client, "结果.csv", data=(DATA / "results_ok_gbk.csv").read_bytes())
    assert response.status_code == 200
    text = page_text(response)
    assert "数据行： 2 新增： 2 更新： 0 未变化： 0" in text
    assert "2 结果说明 手机号码 138****5678" in text and "2 结果说明 身份证号码 1101**********002X" in text
    assert "13812345678" not in text and corpus.ID_NUMBER not in text
    fields = confirm_form(response)
    # The preview wrote nothing but the file waiting for confirmation (in the database: any host may confirm).
    assert table_counts() == {**before, "upload_job": 1}

    fields["publish"] = "1"
    response = client.post("/admin/uploads/confirm", data=fields)
    assert response.status_code == 303
    batch_url = response.headers["Location"]
    text = page_text(client.get(batch_url))
    assert "已导入检查结果文件“结果.csv”：新增 2，更新 0，未变化 0，发布 2" in text
    results = _db.session.execute(select(Result)).scalars().all()
    assert len(results) == 2 and all(r.status == Status.PUBLISHED for r in results)
    batch = _db.session.execute(select(ImportBatch)).scalar()
    assert (batch.actor_name, batch.user_id, batch.department_id) == ("clerk-mq", world["clerk"].id, world["dept"].id)
    # The public page shows the masked text only.
    public = client.get(f"/tasks/{corpus.TASK}")
    if public.status_code == 200:
        assert "13812345678" not in public.get_data(as_text=True)

    # Confirming the same stored file again changes nothing.
    response = client.post("/admin/uploads/confirm", data=fields)
    assert response.status_code == 303
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 2
    assert "未变化 2" in page_text(client.get(response.headers["Location"]))


def test_warnings_must_be_accepted(client, world, login):
    from portal.models import Entity
    _db.session.add(Entity(uscc=corpus.WRONG_CHECK, name="校验位异常公司", entity_type="企业", region_code="411421"))
    login(client, world["clerk"])
    response = upload(client, "w.csv", data=(DATA / "results_warn_uscc_checksum.csv").read_bytes())
    assert response.status_code == 200
    assert 'name="accept_warnings" value="1" required' in response.get_data(as_text=True)
    fields = confirm_form(response)
    response = client.post("/admin/uploads/confirm", data=fields)
    assert response.status_code == 422 and "文件有警告，请确认后再导入" in page_text(response)
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 0
    response = client.post("/admin/uploads/confirm", data={**fields, "accept_warnings": "1"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.headers["HX-Redirect"].startswith("/admin/uploads/")
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 1


def test_hostile_files_through_the_page(client, world, login):
    login(client, world["clerk"])
    before = table_counts()
    for name, message in (("xlsx_zip_bomb.xlsx", "压缩炸弹"), ("xlsx_xml_entities.xlsx", "XML 实体声明"),
                          ("results_bad_utf16_nobom.csv", "UTF-16")):
        response = upload(client, name)
        assert response.status_code == 422 and message in page_text(response)
    assert table_counts() == before


def test_over_the_size_limit_gets_the_chinese_413_page(client, world, login, app):
    login(client, world["clerk"])
    token = extract_csrf(client.get("/admin/uploads").get_data(as_text=True))
    app.config["MAX_CONTENT_LENGTH"] = 4096
    before = table_counts()
    response = client.post("/admin/uploads", data={"csrf_token": token, "kind": "results",
                                                   "file": (io.BytesIO(b"x" * 10000), "big.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and "文件过大" in page_text(response)
    assert table_counts() == before


def test_forged_department_and_foreign_batches(client, world, login, other):
    login(client, world["clerk"])
    other_dept = other.department_id
    response = upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes(), department_id=str(other_dept))
    assert response.status_code == 403
    response = upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes())
    fields = confirm_form(response)
    response = client.post("/admin/uploads/confirm", data={**fields, "department_id": str(other_dept)})
    assert response.status_code == 403
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 0
    response = client.post("/admin/uploads/confirm", data={**fields, "sha256": "f" * 64})
    assert response.status_code == 404
    response = client.post("/admin/uploads/confirm", data={**fields, "sha256": "../../secret_key"})
    assert response.status_code == 404
    client.post("/admin/uploads/confirm", data=fields)
    batch_id = _db.session.execute(select(ImportBatch.id)).scalar()
    # The other department's clerk neither sees the batch nor lists it.
    client.post("/admin/logout", data={"csrf_token": extract_csrf(client.get("/admin/uploads").get_data(as_text=True))})
    login(client, other)
    assert client.get(f"/admin/uploads/{batch_id}").status_code == 404
    assert "结果.csv" not in page_text(client.get("/admin/uploads/history"))
    assert "r.csv" not in page_text(client.get("/admin/uploads/history"))
    assert client.get(f"/admin/uploads/progress/{fields['sha256']}/{fields['run']}").status_code == 404


def test_auditor_reads_history_but_cannot_upload(client, world, login, auditor):
    login(client, auditor)
    assert client.get("/admin/uploads/history").status_code == 200
    assert 'enctype="multipart/form-data"' not in client.get("/admin/uploads").get_data(as_text=True)
    response = upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes())
    assert response.status_code == 403


def test_admin_chooses_the_department(client, world, login, admin):
    login(client, admin)
    response = upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes())
    assert response.status_code == 400 and "请选择导入到哪个部门" in page_text(response)
    response = upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes(),
                      department_id=str(world["dept"].id))
    assert response.status_code == 200 and "导入到 民权县市场监督管理局" in page_text(response)


def test_post_without_csrf_token_fails(client, world, login):
    login(client, world["clerk"])
    response = client.post("/admin/uploads", data={"kind": "results",
                                                   "file": (io.BytesIO(b"a,b\n"), "r.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert client.post("/admin/uploads/confirm", data={"kind": "results"}).status_code == 400


def test_progress_component(client, world, login):
    login(client, world["clerk"])
    response = upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes())
    html = response.get_data(as_text=True)
    fields = confirm_form(response)
    url = f"/admin/uploads/progress/{fields['sha256']}/{fields['run']}"
    # static/js/portal.js triggers progress-tick every second while the confirm request runs (no eval: CSP).
    assert f'hx-get="{url}"' in html and 'hx-trigger="progress-tick"' in html
    assert 'data-progress="#import-progress-poll"' in html
    assert "正在重新校验文件" in page_text(client.get(url))
    client.post("/admin/uploads/confirm", data=fields)
    response = client.get(url)
    assert "导入完成" in page_text(response) and response.headers["HX-Redirect"].startswith("/admin/uploads/")


def test_stale_stored_uploads_are_pruned(client, world, login, app):
    from datetime import timedelta

    from portal.models import UploadJob

    login(client, world["clerk"])
    fields = confirm_form(upload(client, "r.csv", data=(DATA / "results_ok_gbk.csv").read_bytes()))
    # The file waits in the database (any host may confirm it), not in the instance folder.
    stored = _db.session.execute(select(UploadJob).where(UploadJob.token == fields["run"])).scalar()
    assert (stored.state, stored.sha256, stored.row_count) == ("previewed", fields["sha256"], 2)
    assert not (Path(app.instance_path) / "uploads").exists()
    stored.expires_at = stored.created_at - timedelta(seconds=1)
    _db.session.commit()
    upload(client, "other.csv", data=(DATA / "results_ok_utf8.csv").read_bytes())
    assert _db.session.execute(select(UploadJob.token)).scalars().all() != [] and \
        fields["run"] not in _db.session.execute(select(UploadJob.token)).scalars().all()
    # Confirming a forgotten preview is a clear 404, not a half import.
    response = client.post("/admin/uploads/confirm", data=fields)
    assert response.status_code == 404 and "预览已过期" in page_text(response)
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 0
