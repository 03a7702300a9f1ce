"""The signed manifest of a bundle (schema, scope, counts, every file's digest) and the audit
checkpoint it carries; appliance.exports.build describes the whole layout."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from appliance.exports.bundle import BundleWriter
from appliance.exports.context import ExportContext

SCHEMA = "interview-appliance-export"
SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
CHECKPOINT_NAME = "audit/checkpoint.json"


def manifest_bytes(
    ctx: ExportContext,
    bundle: BundleWriter,
    created_at: str,
    public_pem: str,
    public_raw: bytes,
) -> bytes:
    """The manifest.json of a bundle whose kind has written everything (the device signs it)."""
    export = ctx.export
    counts: dict[str, Any] = {
        "files": len(bundle.files),
        "tables": {name: table.rows for name, table in bundle.tables.items()},
        "withheld": {"china_region_individuals": len(ctx.withheld_china)},
    }
    if export.cross_border:
        counts["cn3"] = {
            "individuals": len(ctx.china_individuals),
            "sensitive_individuals": len(ctx.china_sensitive),
        }
    manifest: dict[str, Any] = {
        "format": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "export_id": export.id,
        "kind": export.kind,
        "region": export.region,
        "period": {"start": export.period_start, "end": export.period_end, "end_exclusive": True},
        "created_at": created_at,
        "requested_by": f"user:{export.requested_by}",
        "recipient": {
            "age_recipient": export.age_recipient,
            "location_country": export.recipient_country,
            "cross_border": export.cross_border,
        },
        "site": ctx.config.site.name,
        "device_public_key": public_pem,
        "device_key_sha256": hashlib.sha256(public_raw).hexdigest(),
        "counts": counts,
        "files": bundle.files,
        "signature": {"file": SIGNATURE_NAME, "algorithm": "Ed25519", "encoding": "base64"},
        **bundle.notes,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)
    return text.encode("utf-8") + b"\n"


def checkpoint_bytes(checkpoint: dict[str, Any]) -> bytes:
    """The latest audit checkpoint as JSON (bytes as hex) for `CHECKPOINT_NAME`."""
    plain = {
        key: value.hex() if isinstance(value, bytes | bytearray | memoryview) else value
        for key, value in checkpoint.items()
    }
    return json.dumps(plain, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"
