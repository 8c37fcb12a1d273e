"""Chinese error pages (HTML, or JSON for .json URLs)."""
from flask import jsonify, render_template, request
from werkzeug.exceptions import BadRequest

MESSAGES = {
    400: ("请求有误", "请求的参数不正确，请检查后重试。"),
    403: ("无权访问", "您没有权限查看或修改此内容。"),
    404: ("页面不存在", "您要找的页面或记录不存在，可能编号有误或尚未公开。"),
    405: ("请求方式不被允许", "该地址不支持此请求方式。"),
    413: ("文件过大", "上传的文件超过了大小限制，请拆分后再上传。"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("服务器内部错误", "系统出现错误，请稍后再试；问题持续时请联系管理员。"),
}


class BadInput(BadRequest):
    """A 400 whose Chinese sentences say exactly what was wrong; shown to the user as they are."""

    def __init__(self, *messages: str):
        super().__init__(description="；".join(messages))
        self.messages = list(messages)


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def error_response(code: int, title: str, text: str, messages: list[str] | None = None):
    if _wants_json():
        body = {"status": code, "title": title, "message": text}
        if messages:
            body["messages"] = messages
        return jsonify({"error": body}), code
    if request.path.endswith((".csv", ".txt", ".xml", ".rss", ".atom")):
        # A data URL answers in the form a script reads; a person still gets the sentence.
        return f"{title}：{text}\n", code, {"Content-Type": "text/plain; charset=utf-8"}
    from .web import wants_fragment
    template = "_error_fragment.html" if wants_fragment() else "error.html"
    return render_template(template, code=code, title=title, message=text), code


def register(app):
    def handle(error):
        if getattr(error, "response", None) is not None:
            return error.response  # a view or extension built its own answer (e.g. a rate limit's page)
        code = getattr(error, "code", 500) or 500
        if isinstance(error, BadInput):
            return error_response(400, "请求有误", error.description, error.messages)
        title, text = MESSAGES.get(code, (getattr(error, "name", "错误"), getattr(error, "description", "")))
        custom = getattr(error, "description", None)
        if custom and custom != getattr(type(error), "description", None) and not custom.isascii():
            text = custom  # abort(404, description="…") says exactly why; a library's English text does not
        return error_response(code, title, text)

    for code in MESSAGES:
        app.register_error_handler(code, handle)
