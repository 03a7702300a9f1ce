"""Demo data for a fresh appliance: fictional people, jobs, the starter competency models, one
recording."""

from __future__ import annotations

import io
import logging
import math
import shutil
import struct
import subprocess
import wave

from argon2 import PasswordHasher

from appliance.accounts.auth import principal_of
from appliance.competency import starter_keys, starter_spec
from appliance.compliance.notices import publish_notice, record_delivery, save_notice
from appliance.media.recordings import ingest_recording
from appliance.media.spool import Spool
from appliance.platform.config import ApplianceConfig
from appliance.store import Store

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - published demo accounts, never production

DEMO_USERS = [
    ("hr.alice", "Alice Hr", "hr_admin", ["Engineering", "Sales"], ["EU", "US-IL", "CN"]),
    ("rec.bob", "Bob Recruiter", "recruiter", ["Engineering"], ["EU", "US-IL"]),
    ("int.chen", "Chen Interviewer", "interviewer", ["Engineering"], ["CN", "EU"]),
    ("lead.dana", "Dana Lead", "business_lead", ["Engineering"], ["EU"]),
    ("tech.eli", "Eli Expert", "tech_expert", ["Engineering"], ["EU", "US-IL"]),
    ("audit.fay", "Fay Auditor", "auditor", [], ["EU", "US-IL", "CN"]),
]

# The EU notice HR publishes (EU-2/EU-3): without it being given, the AI may not score.
DEMO_NOTICE = {
    "title": "How we use AI in your interview",
    "controller": "Demo Employer GmbH, HR department, Berlin",
    "purposes": "Selecting candidates for the advertised position",
    "retention": "Twelve months after the hiring decision",
    "rights": "Access, correction, erasure, objection, a human review of any decision",
    "automated_evaluation": "Your spoken answers are transcribed on our own server and "
    "compared with the job's competency anchors (STAR method); people review every score "
    "and make every decision.",
}

DEMO_ANSWER = (
    "Last year our payment service slowed down every evening. I measured the queries, "
    "found a missing index, and reduced the response time from two seconds to two hundred "
    "milliseconds."
)


def demo_recording() -> bytes:
    """A short spoken answer (espeak-ng when installed, else a tone), as WAV bytes."""
    if shutil.which("espeak-ng"):
        spoken = subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "--stdout", DEMO_ANSWER],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if spoken.returncode == 0 and spoken.stdout:
            return spoken.stdout
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        samples = (int(8000 * math.sin(2 * math.pi * 440 * i / 16000)) for i in range(16000 * 3))
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def load_demo_data(store: Store, config: ApplianceConfig) -> dict[str, int]:
    """Fill a fresh appliance with fictional data; returns how many of each were made."""
    hasher = PasswordHasher()
    password_hash = hasher.hash(DEMO_PASSWORD)
    with store.transaction():
        for username, name, role, departments, regions in DEMO_USERS:
            store.users.create(
                username,
                name,
                role,
                password_hash=password_hash,
                departments=departments,
                regions=regions,
                email=f"{username}@demo.invalid",
            )
        # Every built-in starter model is installed; the engineering jobs use one of them.
        starters = {key: store.competency.save(starter_spec(key)) for key in starter_keys()}
        model = starters["software_engineer"]
        berlin = store.requisitions.create(
            "Backend engineer", "Engineering", "Berlin", "EU", competency_model_id=model.id
        )
        chicago = store.requisitions.create(
            "Site reliability engineer",
            "Engineering",
            "Chicago",
            "US-IL",
            competency_model_id=model.id,
        )
        shanghai = store.requisitions.create(
            "Mobile engineer", "Engineering", "Shanghai", "CN", competency_model_id=model.id
        )
    people = [
        ("Maria Demo", "EU", "en", berlin.id),
        ("James Example", "US-IL", "en", chicago.id),
        ("Li Wei", "CN", "zh", shanghai.id),
        ("Sofia Sample", "EU", "en", berlin.id),
    ]
    interviews = []
    for name, region, language, requisition_id in people:
        candidate = store.candidates.create(
            name,
            email=f"{name.split()[0].lower()}@demo.invalid",
            residence_region=region,
            language=language,
        )
        interviews.append(store.interviews.create(candidate.id, requisition_id, language=language))
    interviewer = store.users.by_username("int.chen")
    expert = store.users.by_username("tech.eli")
    with store.transaction():
        if interviewer is not None:
            store.interviews.assign(interviews[0].id, interviewer.id, "interviewer")
            store.interviews.assign(interviews[2].id, interviewer.id, "interviewer")
        if expert is not None:
            store.interviews.assign(interviews[0].id, expert.id, "tech_expert")
    alice = store.users.by_username("hr.alice")
    if alice is not None:
        # Maria was sent the published EU notice, so her answer is transcribed *and* scored.
        hr = principal_of(alice)
        notice = save_notice(store, hr, region="EU", language="en", fields=DEMO_NOTICE)
        publish_notice(store, hr, notice.id)
        record_delivery(store, hr, interview_id=interviews[0].id, notice_id=notice.id)
    spool = Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)
    ingest_recording(
        store,
        spool,
        config,
        interview_id=interviews[0].id,
        source=io.BytesIO(demo_recording()),
        filename="answer-1.wav",
        content_type="audio/wav",
        actor="provisioning",
    )
    with store.transaction():
        store.audit.append("provisioning", "demo.loaded", details={"candidates": len(people)})
    return {"users": len(DEMO_USERS), "requisitions": 3, "candidates": len(people), "recordings": 1}
