"""Every command of the fieldcoach CLI answers --help."""

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from fieldcoach.cli import app

runner = CliRunner()


def _command_paths(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*prefix, name))


@pytest.mark.parametrize("path", list(_command_paths(get_command(app))), ids=" ".join)
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
