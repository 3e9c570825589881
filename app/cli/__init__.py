"""Flask CLI commands. Each module named in COMMAND_MODULES defines a click group `group`;
adding a command group is adding its module's name here."""

from importlib import import_module

from flask import Flask

COMMAND_MODULES = ("users", "demo", "ledger", "devices", "workflows", "jobs", "consistency")


def register_cli(app: Flask) -> None:
    """Add every module's group to `flask`."""
    for name in COMMAND_MODULES:
        app.cli.add_command(import_module(f"{__name__}.{name}").group)
