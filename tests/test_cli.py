"""Every command answers --help (exit 0) with its own usage line."""

from __future__ import annotations

import pytest

from videorft.cli.main import COMMANDS, main


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_help(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*path.split(), "--help"])
    assert exit_info.value.code == 0
    assert f"videorft {path}" in capsys.readouterr().out
