"""`flask --app wsgi import results|penalties|entities|inspectors FILE --department CODE [--publish]`."""
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import clock
from ..extensions import db
from ..models import Department
from .columns import KINDS
from .service import ImportRejected, build_preview, commit


def format_problems(preview) -> list[str]:
    lines = []
    for p in preview.problems:
        where = f"第 {p.row} 行" if p.row else "文件"
        level = "错误" if p.is_error else "警告"
        column = f"［{p.column}］" if p.column else ""
        fix = f" → {p.fix}" if p.fix else ""
        lines.append(f"{level} {where}{column}：{p.message}{fix}")
    for number, m in preview.maskings:
        lines.append(f"已遮蔽 第 {number} 行［{m.column}］{m.label}：{m.masked}")
    return lines


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", "department_code", required=True, help="Department code the rows belong to.")
@click.option("--publish", is_flag=True, help="Publish the imported records (results, penalties).")
@click.option("--accept-warnings/--no-accept-warnings", default=True, show_default=True,
              help="Import rows that only have warnings (e.g. a USCC failing its check character).")
@with_appcontext
def command(kind, path, department_code, publish, accept_warnings):
    """Import a CSV/XLSX file with the same validation as the upload page; writes nothing on any error."""
    department = db.session.execute(select(Department).where(Department.code == department_code)).scalar()
    if department is None:
        raise click.ClickException(f"部门代码“{department_code}”不存在")
    data = path.read_bytes()
    preview = build_preview(kind, data, path.name, department, clock.today())
    for line in format_problems(preview):
        click.echo(line)
    if not preview.ok or (preview.warnings and not accept_warnings):
        click.echo(f"未导入：{len(preview.errors)} 个错误，{len(preview.warnings)} 个警告；数据库未作任何修改。", err=True)
        raise SystemExit(1)
    try:
        batch = commit(kind, data, path.name, department, actor=None, accept_warnings=accept_warnings,
                       publish=publish)
    except ImportRejected as exc:
        for line in format_problems(exc.preview):
            click.echo(line)
        click.echo(f"未导入：{exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"已导入 {batch.row_count} 行（批次 {batch.id}）：{batch.message}")
