"""Turn a provider's task report into vidhook's one Event."""

from __future__ import annotations

from vidhook.receiver.event import Event, TaskReport, event_type, new_id

__all__ = ["normalise"]


def normalise(
    report: TaskReport,
    *,
    source: str,
    provider: str,
    received_at: str,
    verified_by: list[str],
    labels: dict[str, str],
) -> Event:
    """Give a task report its identity, type and labels. Video URLs stay exactly as received,
    and only a completed task carries them."""
    return Event(
        id=new_id(),
        type=event_type(report.status),
        source=source,
        provider=provider,
        task_id=report.task_id,
        status=report.status,
        provider_status=report.provider_status,
        model=report.model,
        video_urls=report.video_urls if report.status == "completed" else [],
        error=report.error,
        progress=report.progress,
        credits=report.credits,
        labels=dict(labels),
        created_at=report.created_at,
        finished_at=report.finished_at,
        received_at=received_at,
        verified_by=verified_by,
        duration_s=report.duration_s,
        resolution=report.resolution,
        audio=report.audio,
    )
