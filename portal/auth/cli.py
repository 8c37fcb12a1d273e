"""`flask --app wsgi users …`: manage back-office accounts from the command line."""
import click

from .. import journal
from ..database import write_transaction
from .accounts import AccountError, create_user


@click.group("users", help="管理后台用户 (manage back-office users)")
def command():
    pass


@command.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "clerk", "auditor"]), help="admin|clerk|auditor")
@click.option("--department", "department", default=None, help="部门代码 (department code; required for clerks)")
@click.option("--password", default=None, help="密码；不提供时交互输入 (prompted when omitted)")
@click.option("--display-name", default=None)
def create(name, role, department, password, display_name):
    """Create a user."""
    if role == "clerk" and not department:
        raise click.ClickException("业务人员必须指定 --department 部门代码（a clerk needs --department CODE）")
    if password is None:
        password = click.prompt("密码 (password)", hide_input=True, confirmation_prompt=True)
    try:
        with write_transaction():
            user = create_user(name, password, role, department=department, display_name=display_name)
            journal.record("user_create", "user", None, actor="system", index=False,
                           after={"username": user.username, "role": role, "department": department},
                           summary=f"命令行创建用户 {user.username}（{role}）")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建用户 {name}（{role}{'，部门 ' + department if department else ''}）")
