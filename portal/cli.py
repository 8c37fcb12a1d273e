"""`flask --app wsgi …` commands. Each feature module owns its command group; this lists them."""
import importlib

# Modules exposing a click command or group named `command` (added as features land).
COMMAND_MODULES = [
    "portal.demo.cli",
    "portal.importers.cli",
    "portal.deadlines_cli",
    "portal.auth.cli",
    "portal.auth.signins_cli",
    "portal.admin.audit_cli",
    "portal.search_cli",
    "portal.draw_cli",
    "portal.stats.cli",
]


def register(app) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        app.cli.add_command(module.command)
