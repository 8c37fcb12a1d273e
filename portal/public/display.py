"""Elder-friendly display mode (适老化, GB/T 37668): larger type and higher contrast.

HTML pages stay the same for everyone (anonymous pages are cacheable and never vary by cookie):
every page links the small stylesheet `/display.css`, which answers the elder styles or nothing
depending on the `display` preference cookie, privately cached and `Vary: Cookie`. The header's
toggle is a plain link to `/display?next=/the/page` (no JavaScript, no form): it flips the cookie
and sends the person back to the page they were reading. `mode=elder` / `mode=standard` set a
mode explicitly.
"""
import hashlib
from pathlib import Path

from flask import current_app, make_response, redirect, request

from ..errors import BadInput
from ..security import safe_next
from . import bp

COOKIE = "display"
ELDER = "elder"
STANDARD = "standard"
MODES = (ELDER, STANDARD)
COOKIE_MAX_AGE = 365 * 24 * 3600  # a preference, kept for a year
ELDER_CSS_PATH = Path(__file__).resolve().parents[2] / "static" / "css" / "elder.css"


def current_mode() -> str:
    return ELDER if request.cookies.get(COOKIE) == ELDER else STANDARD


@bp.get("/display")
def display():
    mode = (request.args.get("mode") or "").strip()
    if mode and mode not in MODES:
        raise BadInput("显示模式只能是“elder”（长者模式）或“standard”（标准模式）。")
    if not mode:
        mode = STANDARD if current_mode() == ELDER else ELDER
    response = redirect(safe_next(request.args.get("next"), "/"), code=303)
    response.headers["Cache-Control"] = "no-store"
    if mode == ELDER:
        response.set_cookie(COOKIE, ELDER, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    else:
        response.delete_cookie(COOKIE, httponly=True, samesite="Lax",
                               secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/display.css")
def display_css():
    """The elder styles when the preference cookie asks for them, else an empty stylesheet."""
    mode = current_mode()
    body = ELDER_CSS_PATH.read_text(encoding="utf-8") if mode == ELDER else "/* 标准模式 */\n"
    response = make_response(body)
    response.headers["Content-Type"] = "text/css; charset=utf-8"
    # Per browser only (it depends on the cookie), and revalidated so a toggle shows at once.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    response.set_etag(hashlib.sha256(body.encode("utf-8")).hexdigest()[:32])
    return response.make_conditional(request)
