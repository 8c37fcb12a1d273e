"""`flask --app wsgi search sync|rebuild|verify` (SPEC §10)."""
import click
from flask.cli import AppGroup

from . import search

command = AppGroup("search", help="全文检索索引 / search index")


@command.command("sync")
def sync_command():
    """Apply the change log to this host's index."""
    applied = search.sync()
    click.echo(f"applied {applied} change(s)")


@command.command("rebuild")
@click.option("--procs", type=click.IntRange(1, 64), default=None,
              help="writer processes (default SEARCH_BUILD_PROCS, 1: the fastest; more use Whoosh's multi-process writer)")
def rebuild_command(procs):
    """Build a new index from the database and switch to it atomically."""
    info = search.rebuild(procs=procs)
    click.echo(f"rebuilt {info['generation']}: {info['documents']} document(s) in {info['seconds']} s "
               f"({info['docs_per_second']} documents/s, {info['procs']} writer process(es))")


@command.command("verify")
def verify_command():
    """List differences between the index and what the visibility rule allows (exit 1 if any)."""
    differences = search.verify()
    for difference in differences:
        click.echo(str(difference))
    if differences:
        click.echo(f"{len(differences)} difference(s)", err=True)
        raise SystemExit(1)
    click.echo("index matches the database")
