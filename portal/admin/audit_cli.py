"""`flask --app wsgi audit verify`: walk the hash chain and name the first broken link."""
import sys

import click

from .. import journal


@click.group("audit", help="审计日志 (audit trail)")
def command():
    pass


@command.command("verify")
def verify():
    """Check every event's hash and link; exit 1 at the first broken one."""
    count, head, problem = journal.verify_chain()
    if problem is None:
        click.echo(f"OK: {count} events, head {head}")
        return
    event_id, message = problem
    click.echo(f"BROKEN at event {event_id}: {message}", err=False)
    sys.exit(1)
