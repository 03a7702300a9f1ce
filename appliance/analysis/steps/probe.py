"""The probe step: read the whole recording with PyAV, measure its duration and streams."""

from __future__ import annotations

import logging

from appliance.analysis.pipeline import (
    AnalysisStep,
    ReportDraft,
    StepContext,
    StepFailure,
    register_step,
)
from inference.media import MediaError, probe

logger = logging.getLogger(__name__)


@register_step
class ProbeStep(AnalysisStep):
    """Demux every packet and decode the audio, so later steps get a verified, described file."""

    name = "probe"

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Describe the media, or fail the job with the media's specific error."""
        with ctx.open_media() as media:
            try:
                info = probe(media, max_duration_s=ctx.config.media.max_duration_s)
            except MediaError as exc:
                raise StepFailure(f"media_{exc.code}", str(exc), retryable=False) from None
        draft.media_info = info.to_dict()
        return draft
