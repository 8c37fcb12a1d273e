"""`flask --app wsgi signins seal`: seal closed sign-in windows into the audit chain."""
import click

from ..database import utcnow
from . import signins, throttle


@click.group("signins", help="登录记录 (sign-in records)")
def command():
    pass


@command.command("seal")
def seal():
    """Append one audit event per closed 15-minute window of sign-in attempts (run every few minutes)."""
    now = utcnow()
    windows = signins.seal(now)
    forgotten = throttle.forget_stale(now)
    click.echo(f"已封存 {windows} 个时间窗的登录记录（sealed {windows} window(s)）；"
               f"尚未封存 {signins.unsealed_count()} 行；清理过期的登录退避记录 {forgotten} 条")
