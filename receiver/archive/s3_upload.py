"""One object being written to S3: a PutObject when it fits in one part, else a multipart
upload whose parts are sent as they fill and which is completed, or aborted, at the end."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["S3Upload"]


class S3Upload:
    """One object being written: parts sent as they fill, completed or aborted at the end."""

    def __init__(self, s3: Any, bucket: str, name: str, content_type: str) -> None:
        self.s3, self.bucket, self.name, self.content_type = s3, bucket, name, content_type
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    async def part(self, data: bytes) -> None:
        """Send one full part, beginning the multipart upload with the first."""
        if self.upload_id is None:
            begun = await self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.name, ContentType=self.content_type
            )
            self.upload_id = begun["UploadId"]
        number = len(self.parts) + 1
        answer = await self.s3.upload_part(
            Bucket=self.bucket, Key=self.name, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def finish(self, rest: bytes) -> None:
        """Send what is left and make the object visible."""
        if self.upload_id is None:  # smaller than one part
            await self.s3.put_object(
                Bucket=self.bucket, Key=self.name, Body=rest, ContentType=self.content_type
            )
            return
        if rest:
            await self.part(rest)
        await self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.name,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )
        self.upload_id = None

    async def abort(self) -> None:
        """Abort the multipart upload, if one is open, deleting its parts; when the bucket cannot
        be reached, `remove_partials` aborts it later."""
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            with suppress(ClientError, BotoCoreError, OSError):
                await self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.name, UploadId=upload_id
                )
