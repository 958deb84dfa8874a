"""Keeping the videos: the archive's stores (`backends`), its downloader (`fetch`) and the
signing of its `/media` links."""
