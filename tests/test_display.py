"""Elder-friendly mode (适老化): a GET toggle that sets a preference cookie and comes back, and
/display.css that answers the elder styles or nothing; the HTML pages never vary by that cookie."""
from pathlib import Path

import pytest

ELDER_CSS = (Path(__file__).resolve().parents[1] / "static" / "css" / "elder.css").read_text(encoding="utf-8")


def text(response):
    return response.get_data(as_text=True)


def test_every_page_links_the_display_stylesheet_and_the_toggle(client):
    html = text(client.get("/results?year=2025"))
    assert '<link rel="stylesheet" href="/display.css">' in html
    assert 'id="display-toggle" href="/display?next=/results?year%3D2025"' in html
    assert "长者模式" in html and "退出长者模式" in html


def test_turning_elder_mode_on_sets_a_cookie_and_goes_back(client):
    response = client.get("/display?mode=elder&next=/penalties?year=2025")
    assert response.status_code == 303
    assert response.headers["Location"] == "/penalties?year=2025"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("display=elder;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie

    css = client.get("/display.css")
    assert css.status_code == 200
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["Cache-Control"] == "private, no-cache"
    assert "Cookie" in css.headers["Vary"]
    assert text(css) == ELDER_CSS
    assert "font-size: 20px" in text(css)

    # Revalidation: the same stylesheet answers 304.
    again = client.get("/display.css", headers={"If-None-Match": css.headers["ETag"]})
    assert again.status_code == 304


def test_the_toggle_flips_the_mode_and_back(client):
    assert "display=elder" in client.get("/display?next=/").headers["Set-Cookie"]
    assert text(client.get("/display.css")) == ELDER_CSS
    off = client.get("/display?next=/stats")
    assert off.status_code == 303 and off.headers["Location"] == "/stats"
    assert off.headers["Set-Cookie"].startswith("display=;") and "Max-Age=0" in off.headers["Set-Cookie"]
    standard = client.get("/display.css")
    assert text(standard) == "/* 标准模式 */\n"
    assert "Cookie" in standard.headers["Vary"] and standard.headers["Cache-Control"] == "private, no-cache"
    assert client.get("/display?mode=standard").headers["Location"] == "/"


def test_pages_are_the_same_with_and_without_the_preference(client):
    plain = text(client.get("/plans"))
    client.get("/display?mode=elder&next=/")
    assert text(client.get("/plans")) == plain


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_the_toggle_only_goes_back_to_this_site(client, target):
    response = client.get("/display", query_string={"mode": "elder", "next": target})
    assert response.status_code == 400
    assert "只能是本站的页面地址" in text(response)
    assert "Set-Cookie" not in response.headers or "display=" not in response.headers["Set-Cookie"]


def test_an_unknown_mode_is_a_chinese_400(client):
    response = client.get("/display?mode=big&next=/")
    assert response.status_code == 400
    assert "显示模式只能是" in text(response)
    assert "display=" not in response.headers.get("Set-Cookie", "")


def test_the_toggle_comes_back_to_any_page_even_a_404(client):
    page = client.get("/no such/页面")
    assert page.status_code == 404
    html = text(page)
    href = html.split('id="display-toggle" href="', 1)[1].split('"', 1)[0]
    assert href == "/display?next=/no%2520such/%25E9%25A1%25B5%25E9%259D%25A2"
    back = client.get(href)
    assert back.status_code == 303
    assert back.headers["Location"] == "/no%20such/%E9%A1%B5%E9%9D%A2"
