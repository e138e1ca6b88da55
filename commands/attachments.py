"""Attachments of incoming email, stored once each in the `attachments` table by their
SHA-256 (before the part that names them is saved) and read back for their signed links."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from commands.clock import Clock
from domain.conversations import Attachment
from projections.tables import attachments as attachments_table


def keep_attachments(
    engine: Engine, app_id: str, files: list[tuple[Attachment, bytes]], clock: Clock
) -> None:
    """Store attachments first: a part never names bytes that are not there. Stored bytes
    are named by their hash, so storing again (a retried email) changes nothing."""
    if not files:
        return
    for kept, data in files:
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(attachments_table).values(
                        app_id=app_id,
                        sha256=kept["sha256"],
                        content_type=kept["content_type"],
                        size=kept["size"],
                        data=data,
                        created_at=int(clock.now().timestamp()),
                    )
                )
        except SqlIntegrityError:
            pass  # the same bytes, kept before


def attachment(engine: Engine, app_id: str, sha256: str) -> tuple[str, bytes] | None:
    """An attachment's content type and bytes."""
    with engine.connect() as conn:
        row = conn.execute(
            select(attachments_table.c.content_type, attachments_table.c.data).where(
                attachments_table.c.app_id == app_id, attachments_table.c.sha256 == sha256
            )
        ).first()
    return None if row is None else (str(row[0]), bytes(row[1]))
