"""The `recordings` kind: interview recordings of the period (decrypted from the spool straight
into the encrypted bundle) and their metadata; media, so IL-2 applies."""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Iterator

from appliance.exports.bundle import BundleWriter
from appliance.exports.context import ExportContext
from appliance.exports.rules import ExportError, is_china_data
from appliance.media.spool import Spool
from appliance.platform.errors import NotFoundError

MEDIA_BLOCK = 1 << 20

RECORDING_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "recording_id",
    "interview_id",
    "content_type",
    "bytes",
    "sha256",
    "created_at",
    "file",
)


def _media_blocks(reader: io.RawIOBase) -> Iterator[bytes]:
    while block := reader.read(MEDIA_BLOCK):
        yield block


def write_recordings(ctx: ExportContext, bundle: BundleWriter) -> None:
    """Recordings of the period (decrypted from the spool into the encrypted bundle)."""
    export, repo, store = ctx.export, ctx.repo, ctx.store
    spool = Spool(ctx.config.paths.spool, chunk_size=ctx.config.media.spool_chunk_bytes)
    table = bundle.table("recordings", RECORDING_COLUMNS, formats=("jsonl", "csv"))
    total = max(1, repo.recording_count(export.region, export.period_start, export.period_end))
    erased = done = 0
    for batch in repo.recording_batches(
        export.region, export.period_start, export.period_end, ctx.batch_size
    ):
        for row in batch:
            done += 1
            pseudonym = row["pseudonym"]
            china = is_china_data(row["region"], row["residence_region"])
            if not ctx.admit(pseudonym, china, sensitive=True):
                continue
            try:
                key = store.vault.key_for(pseudonym)
            except NotFoundError:
                erased += 1  # crypto-shredded: nothing left to export
                continue
            extension = mimetypes.guess_extension(row["content_type"] or "") or ".bin"
            path = f"media/{pseudonym}/recording-{row['id']}{extension}"
            with spool.open(row["spool_name"], bytes(row["wrapped_data_key"]), key) as reader:
                digest = bundle.add_stream(path, row["size_bytes"], _media_blocks(reader))
            if digest != row["sha256"]:
                raise ExportError(f"recording {row['id']} does not match its recorded SHA-256")
            table.add(
                {
                    "pseudonym": pseudonym,
                    "requisition_id": row["requisition_id"],
                    "region": row["region"],
                    "recording_id": row["id"],
                    "interview_id": row["interview_id"],
                    "content_type": row["content_type"],
                    "bytes": row["size_bytes"],
                    "sha256": digest,
                    "created_at": row["created_at"],
                    "file": path,
                }
            )
            ctx.progress(done / total, "recordings")
    bundle.notes["erased_recordings_skipped"] = erased
