"""Deterministic demo data (`flask --app wsgi demo load`)."""
import time

import click
from flask.cli import AppGroup

command = AppGroup("demo", help="演示数据 / demo data")


@command.command("load")
@click.option("--seed", default=20250101, show_default=True, type=int, help="随机种子：同一种子生成完全相同的数据")
@click.option("--size", type=click.Choice(["small", "county", "city"]), default="county", show_default=True,
              help="small 约300个检查对象；county 约2400个；city 约20000个")
@click.option("--if-empty", is_flag=True, help="数据库已有部门数据时什么也不做")
@click.option("--no-index", is_flag=True, help="不重建全文检索索引")
def load(seed, size, if_empty, no_index):
    """Load a deterministic demo data set (民权县) into an empty database."""
    from .loader import DatabaseNotEmpty, has_departments, load as load_demo, rebuild_search_index

    if has_departments():
        if if_empty:
            click.echo("数据库已有数据，跳过演示数据载入（--if-empty）。")
            return
        raise click.ClickException("数据库中已有部门数据，演示数据只能载入空数据库（可用 --if-empty 跳过）。")
    try:
        summary = load_demo(seed, size)
    except DatabaseNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    rows = summary["rows"]
    click.echo(f"已载入演示数据：规模 {size}，种子 {seed}，用时 {summary['seconds']} 秒")
    for label, table in (("部门", "department"), ("抽查事项", "check_item"), ("检查对象", "entity"),
                         ("执法人员", "inspector"), ("抽查计划", "plan"), ("抽查任务", "task"), ("抽取记录", "draw"),
                         ("抽中对象", "draw_selection"), ("检查结果", "result"), ("行政处罚", "penalty"),
                         ("异议和信用修复申请", "objection")):
        click.echo(f"  {label}：{rows.get(table, 0)}")
    click.echo(f"  演示用户：{'、'.join(summary['users']) or '（已存在）'}")
    click.echo(f"  审计事件：{summary['events'] + 1}（逐条记录 + 载入摘要）")
    if not no_index:
        started = time.monotonic()
        try:
            info = rebuild_search_index()
        except Exception as exc:  # the data are committed; the index can be rebuilt later
            click.echo(f"检索索引重建失败（可稍后运行 flask search rebuild）：{exc}", err=True)
        else:
            if info is not None:
                click.echo(f"检索索引已重建：{info.get('documents')} 条，用时 {time.monotonic() - started:.1f} 秒")
