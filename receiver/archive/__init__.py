"""Keeping the videos: the archive's stores (`backends`) and its downloader (`fetch`)."""
