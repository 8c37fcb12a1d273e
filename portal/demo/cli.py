import click
from flask.cli import AppGroup

command = AppGroup("demo", help="演示数据 / demo data")


@command.command("load")
@click.option("--seed", default=20250101, show_default=True, type=int)
@click.option("--size", type=click.Choice(["small", "county", "city"]), default="county", show_default=True)
def load(seed, size):
    """Load a deterministic demo data set."""
    raise click.ClickException("not yet available")
