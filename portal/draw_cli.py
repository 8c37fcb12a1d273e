"""`flask --app wsgi draw verify <id | file.json>`: re-run a draw certificate (SPEC §5)."""
import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

command = AppGroup("draw", help="抽取记录 / draws")


@command.command("verify")
@click.argument("target")
def verify(target):
    """Recompute pool hash, commitment, seed, selection and assignments of a draw (id or certificate file)."""
    from .domain import draw as algo

    if target.isdigit() and not Path(target).exists():
        from .draw_service import certificate
        from .extensions import db
        from .models import Draw

        draw = db.session.get(Draw, int(target))
        if draw is None:
            raise click.ClickException(f"找不到抽取记录 {target} / no draw {target}")
        if draw.drawn_at is None:
            click.echo(f"抽取记录 {target} 尚未完成抽取（nonce 未公开）/ draw not performed yet")
            sys.exit(1)
        cert = certificate(draw)
    else:
        try:
            cert = json.loads(Path(target).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"无法读取证书文件 {target}：{exc}") from None
    problems = algo.verify(cert)
    if problems:
        click.echo(f"不一致 / mismatch: {problems[0]}")
        for extra in problems[1:]:
            click.echo(f"  另 / also: {extra}")
        sys.exit(1)
    click.echo(f"一致 / match: {cert.get('algorithm')} 任务 {cert.get('task')}，候选 {len(cert.get('pool', []))} 户，"
               f"抽中 {len(cert.get('selected', []))} 户，pool_hash {cert.get('pool_hash')}")
