"""`flask --app wsgi audit verify`: walk the hash chain, name the first broken link and any
archived chain head (published on /transparency, kept outside the database) that the chain no
longer reaches."""
import sys

import click

from .. import journal
from ..domain.audit_chain import HEAD, parse_heads


@click.group("audit", help="审计日志 (audit trail)")
def command():
    pass


def _head(ctx, param, values):
    heads = []
    for value in values:
        value = value.strip().lower()
        if not HEAD.match(value):
            raise click.BadParameter(f"不是 64 位十六进制的链头哈希 / not a 64-hex-digit head hash: {value}")
        heads.append(value)
    return heads


@command.command("verify")
@click.option("--head", "heads", multiple=True, callback=_head, metavar="HASH",
              help="An archived chain head that must still be in the chain (repeatable).")
@click.option("--heads", "heads_file", type=click.File("r", encoding="utf-8"), metavar="FILE",
              help="A file of archived chain heads, one per line (# comments allowed).")
def verify(heads, heads_file):
    """Check every event's hash and link, and that every archived head is still in the chain.

    Exit 1 at the first broken link or when an archived head is missing.
    """
    archived = list(heads)
    if heads_file is not None:
        try:
            archived += parse_heads(heads_file.read())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--heads") from None
    count, head, problem, missing = journal.verify_chain(archived)
    failed = False
    if problem is not None:
        event_id, message = problem
        click.echo(f"BROKEN at event {event_id}: {message}")
        failed = True
    for lost in missing:
        click.echo(f"MISSING HEAD {lost}: 审计链中已找不到此前公布的链头，其后的审计记录可能已被删除 / "
                   f"the chain no longer reaches this archived head: later events may have been deleted")
        failed = True
    if failed:
        sys.exit(1)
    reached = f", {len(archived)} archived head(s) reached" if archived else ""
    click.echo(f"OK: {count} events, head {head}{reached}")
