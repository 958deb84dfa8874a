"""With no config file, vidhook keeps the videos in ./videos and its banner says so."""

from __future__ import annotations

from vidhook.receiver.cli.service import _print_default_banner
from vidhook.receiver.defaults import unsaved_default_settings


def test_the_embedded_default_keeps_videos_and_says_where(capsys):
    settings = unsaved_default_settings()
    assert settings.archive is not None
    assert (settings.archive.store, settings.archive.allow_private) == ("file://./videos", False)
    _print_default_banner(settings)
    assert "  videos: kept in ./videos" in capsys.readouterr().out
