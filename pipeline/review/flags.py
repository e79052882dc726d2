"""Everything on a call a reviewer should find, as moments on the timeline: failed and missing
script steps (at the window where the phrase was due), forbidden phrases, auto-fail reasons,
dead air, holds, talk-overs, redactions and stretches the transcription is unsure of; and the
queue's reasons, with the criteria they name linked to their moments. Pure functions of the rows
the call page already reads."""

from __future__ import annotations

import re
from dataclasses import dataclass

# kind -> what the legend and the mark's tooltip call it
FLAG_KINDS = {
    "auto_fail": "auto-fail",
    "missing_step": "missing script step",
    "forbidden": "forbidden phrase",
    "failed": "failed criterion",
    "dead_air": "dead air",
    "hold": "hold",
    "talkover": "talk-over",
    "redacted": "redacted",
    "low_confidence": "unsure transcript",
}
STEP_TYPES = ("phrase", "order", "phrase_after_cue")  # rubric types that ask for something said
EVENT_FLAGS = ("dead_air", "hold", "talkover", "low_confidence")
REASONS_SHOWN = 3  # the rest open with "and N more"


@dataclass(frozen=True)
class Flag:
    kind: str  # a key of FLAG_KINDS
    start_s: float
    end_s: float
    label: str
    criterion_id: str | None = None


def _criterion_kind(criterion: dict) -> str:
    if criterion["auto_fail"]:
        return "auto_fail"
    if criterion.get("type") == "forbidden":
        return "forbidden"
    if criterion.get("type") in STEP_TYPES:
        return "missing_step"
    return "failed"


def _span(start_s: float, end_s: float | None) -> tuple[float, float]:
    return float(start_s), float(end_s if end_s is not None else start_s)


def call_flags(criteria: list[dict], events: list[dict], redactions: list[dict]) -> list[Flag]:
    """The call's flags in time order (each criterion failed with a time, each event a reviewer
    looks for, each redaction)."""
    flags: list[Flag] = []
    for criterion in criteria:
        if criterion["status"] != "fail" or criterion["evidence_start_s"] is None:
            continue
        kind = _criterion_kind(criterion)
        name = criterion["criterion_id"].replace("_", " ")
        flags.append(
            Flag(
                kind,
                *_span(criterion["evidence_start_s"], criterion["evidence_end_s"]),
                f"{FLAG_KINDS[kind]}: {name}",
                criterion["criterion_id"],
            )
        )
    for event in events:
        if event["kind"] in EVENT_FLAGS:
            who = f" ({event['speaker']})" if event["speaker"] else ""
            detail = f": {event['detail']}" if event["detail"] else ""
            label = f"{FLAG_KINDS[event['kind']]}{who}{detail}"
            flags.append(Flag(event["kind"], *_span(event["start_s"], event["end_s"]), label))
    for redaction in redactions:
        flags.append(
            Flag(
                "redacted",
                *_span(redaction["start_s"], redaction["end_s"]),
                f"redacted {redaction['kind']}",
            )
        )
    return sorted(flags, key=lambda f: (f.start_s, f.end_s, f.kind))


@dataclass(frozen=True)
class ReasonPart:
    text: str
    seek_s: float | None = None  # a link to this moment when set
    criterion_id: str | None = None


def reason_links(
    reasons: str | None, criteria: list[dict], flags: list[Flag]
) -> list[list[ReasonPart]]:
    """The queue's reasons ('; '-separated), each split into text and links: a criterion named in
    it links to its evidence (where it was said, or due); a low-confidence reason links to the
    first unsure stretch."""
    if not reasons:
        return []
    moments = {
        c["criterion_id"]: float(c["evidence_start_s"])
        for c in criteria
        if c["evidence_start_s"] is not None
    }
    names = sorted(moments, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None
    unsure = next((f for f in flags if f.kind == "low_confidence"), None)
    parsed: list[list[ReasonPart]] = []
    for reason in (r.strip() for r in reasons.split(";")):
        if not reason:
            continue
        if reason.startswith("low confidence") and unsure:
            parsed.append([ReasonPart(reason, unsure.start_s)])
            continue
        parts, position = [], 0
        for match in pattern.finditer(reason) if pattern else ():
            if match.start() > position:
                parts.append(ReasonPart(reason[position : match.start()]))
            criterion_id = match.group(1)
            parts.append(
                ReasonPart(criterion_id.replace("_", " "), moments[criterion_id], criterion_id)
            )
            position = match.end()
        if position < len(reason):
            parts.append(ReasonPart(reason[position:]))
        parsed.append(parts)
    return parsed
