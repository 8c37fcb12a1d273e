def test_home_page_renders_in_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "双随机、一公开" in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]


def test_unknown_page_gets_chinese_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
