"""Chinese error pages (HTML, or JSON for .json URLs)."""
from flask import jsonify, render_template, request

MESSAGES = {
    400: ("请求有误", "请求的参数不正确，请检查后重试。"),
    403: ("无权访问", "您没有权限查看或修改此内容。"),
    404: ("页面不存在", "您要找的页面或记录不存在，可能编号有误或尚未公开。"),
    405: ("请求方式不被允许", "该地址不支持此请求方式。"),
    413: ("文件过大", "上传的文件超过了大小限制，请拆分后再上传。"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("服务器内部错误", "系统出现错误，请稍后再试；问题持续时请联系管理员。"),
}


def register(app):
    def handle(error):
        if getattr(error, "response", None) is not None:
            return error.response  # a view or extension built its own answer (e.g. a rate limit's page)
        code = getattr(error, "code", 500) or 500
        title, text = MESSAGES.get(code, (getattr(error, "name", "错误"), getattr(error, "description", "")))
        custom = getattr(error, "description", None)
        if custom and custom != getattr(type(error), "description", None) and not custom.isascii():
            text = custom  # abort(404, description="…") says exactly why; a library's English text does not
        if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
            return jsonify({"error": {"status": code, "title": title, "message": text}}), code
        return render_template("error.html", code=code, title=title, message=text), code

    for code in MESSAGES:
        app.register_error_handler(code, handle)
