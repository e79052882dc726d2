"""How accurate is the pipeline on labelled calls: diarization and word error rates against references.

A reference describes one recording: who spoke when (an RTTM, or segments with speaker, times and
text), optionally what was said (an STM, a plain-text transcript, or the text of those segments)
and optionally the scored part of the call (a UEM). Speaker labels that name a role (``agent``,
``customer``, ``caller``...) make the role-aware figures possible; any other labels are scored
with the optimal speaker mapping only.

Metrics come from pyannote.metrics (DER, JER, detection) and jiwer (WER); text is normalised with
Whisper's English normaliser on both sides (spoken and written numbers compare equal, fillers and
``[noise]``-style tags are dropped). ``callqa eval`` and ``benchmarks/real_calls.py`` both score
through :func:`evaluate_call`, so they print the same figures for the same call.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.types import AGENT, CUSTOMER, Event, Turn, Word

ROLE_OF_LABEL = {
    "agent": AGENT, "rep": AGENT, "representative": AGENT, "operator": AGENT,
    "customer": CUSTOMER, "caller": CUSTOMER, "client": CUSTOMER,
}  # fmt: skip
ROLES = (AGENT, CUSTOMER)
# A reference segment made only of these is a sound, not speech ("[noise]", "<unk>", "(laughter)").
NON_SPEECH_TAG = re.compile(r"^\s*(?:(?:\[[^\]]*\]|<[^>]*>|\([^)]*\))\s*)+$")
DEFAULT_COLLAR_S = (
    0.25  # each side of a reference boundary, as the issue tracker and README quote it
)
DEFAULT_DEAD_AIR_OVERLAP_S = (
    1.5  # a dead-air event over more reference speech than this is a defect
)


@dataclass(frozen=True)
class ReferenceSegment:
    """One labelled stretch: who, when, and (when known) what was said."""

    speaker: str
    start_s: float
    end_s: float
    text: str = ""


@dataclass
class Reference:
    """Everything known about one recording: turns, words by speaker, the scored region."""

    key: str  # the file name up to its first dot, used to match recordings
    turns: list[ReferenceSegment] = field(default_factory=list)
    words: list[ReferenceSegment] = field(default_factory=list)  # text by speaker ("" = unknown)
    uem: list[tuple[float, float]] | None = None
    sources: list[str] = field(default_factory=list)
    role_of_label: dict[str, str] = field(default_factory=dict)

    def role(self, label: str) -> str | None:
        return self.role_of_label.get(label) or ROLE_OF_LABEL.get(label.strip().lower())

    @property
    def has_roles(self) -> bool:
        roles = {self.role(turn.speaker) for turn in self.turns}
        return bool(self.turns) and roles <= set(ROLES) and len(roles) > 0


@dataclass
class CallEvaluation:
    """One call scored against its reference. Rates are shares (0.25 = 25 %); None = not measurable."""

    key: str
    call_id: str
    source: str
    reference_speech_s: float  # scored speech: inside the UEM, collars left out
    der: float | None
    role_der: float | None
    jer: float | None
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    missed_by_role: dict[str, float | None] = field(
        default_factory=dict
    )  # share of the role's speech
    false_alarm_by_role: dict[str, float | None] = field(default_factory=dict)  # seconds
    wer_by_role: dict[str, float | None] = field(default_factory=dict)  # incl. "all"
    reference_words_by_role: dict[str, int] = field(default_factory=dict)
    word_errors_by_role: dict[str, int] = field(default_factory=dict)
    dead_air_events: int = 0
    dead_air_over_speech: int = 0  # events covering more than the allowed reference speech
    dead_air_max_overlap_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


# --- reading references --------------------------------------------------------------------------


def reference_key(path: str | Path) -> str:
    """A file's matching key: its name up to the first dot (``abc.agentL_callerR.flac`` -> ``abc``)."""
    return Path(path).name.split(".")[0]


def read_rttm(path: Path) -> list[ReferenceSegment]:
    segments = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith(";") or fields[0] != "SPEAKER":
            continue
        try:
            start_s, duration_s, speaker = float(fields[3]), float(fields[4]), fields[7]
        except (IndexError, ValueError) as exc:
            raise ValueError(
                f"{path}:{number}: not an RTTM SPEAKER line ({exc}): {line!r}"
            ) from exc
        segments.append(ReferenceSegment(speaker, start_s, start_s + duration_s))
    return segments


def read_stm(path: Path) -> list[ReferenceSegment]:
    segments = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith(";;"):
            continue
        fields = line.split(maxsplit=5)
        try:
            speaker, start_s, end_s = fields[2], float(fields[3]), float(fields[4])
        except (IndexError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: not an STM line ({exc}): {line!r}") from exc
        text = fields[5] if len(fields) > 5 else ""
        if text.startswith("<") and ">" in text.split()[0]:  # optional <labels> field
            text = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
        segments.append(ReferenceSegment(speaker, start_s, end_s, text))
    return segments


def read_segments_json(path: Path) -> list[ReferenceSegment]:
    """``{"turns": [{"speaker", "start", "end", "text"}...]}`` or a bare list of such objects."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read reference segments: {exc}") from exc
    items = data.get("turns", data.get("segments")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        # a bad file, reported like every other reference problem
        raise ValueError(f"{path}: expected a list of segments or an object with 'turns'")  # noqa: TRY004
    segments = []
    for index, item in enumerate(items):
        try:
            segments.append(
                ReferenceSegment(
                    str(item["speaker"]),
                    float(item.get("start", item.get("start_s"))),
                    float(item.get("end", item.get("end_s"))),
                    str(item.get("text", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: segment {index} lacks speaker/start/end: {exc}") from exc
    return segments


def read_uem(path: Path) -> list[tuple[float, float]]:
    spans = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4:
            spans.append((float(fields[2]), float(fields[3])))
    return spans


def is_speech_text(text: str) -> bool:
    return bool(text.strip()) and not NON_SPEECH_TAG.match(text)


def build_reference(
    key: str,
    turns: Sequence[ReferenceSegment],
    words: Sequence[ReferenceSegment] = (),
    uem: list[tuple[float, float]] | None = None,
    sources: Sequence[str] = (),
) -> Reference:
    """A reference whose turns leave out what the transcript marks as non-speech ("[noise]")."""
    non_speech = [segment for segment in words if segment.text and not is_speech_text(segment.text)]
    kept = [turn for turn in turns if not _covered_by_non_speech(turn, non_speech)]
    spoken = [segment for segment in words if is_speech_text(segment.text)]
    return Reference(key, kept, spoken, uem, list(sources))


def _covered_by_non_speech(turn: ReferenceSegment, non_speech: Sequence[ReferenceSegment]) -> bool:
    return any(
        other.speaker == turn.speaker
        and other.start_s <= turn.start_s + 0.01
        and turn.end_s <= other.end_s + 0.01
        for other in non_speech
    )


def load_references(directory: str | Path) -> dict[str, Reference]:
    """Every reference in ``directory``, by matching key.

    Who spoke when comes from ``<key>*.rttm``, else from the segments of ``<key>*.json`` or
    ``<key>*.stm``; words from ``.stm``, ``.json`` segments or a plain ``.txt``; ``.uem`` limits
    the scored region. A key with words but no speaker times is kept for WER alone.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a folder of reference files")
    by_key: dict[str, dict[str, Path]] = {}
    for path in sorted(directory.iterdir()):
        kind = path.suffix.lower().lstrip(".")
        if path.is_file() and kind in {"rttm", "stm", "json", "txt", "uem"}:
            found = by_key.setdefault(reference_key(path), {})
            if kind in found:
                raise ValueError(
                    f"{directory}: two .{kind} files for {reference_key(path)!r}: "
                    f"{found[kind].name} and {path.name}"
                )
            found[kind] = path
    references = {}
    for key, files in by_key.items():
        segments: list[ReferenceSegment] = []
        if "json" in files:
            segments = read_segments_json(files["json"])
        elif "stm" in files:
            segments = read_stm(files["stm"])
        turns = read_rttm(files["rttm"]) if "rttm" in files else [s for s in segments if s.text]
        if not turns and segments:
            turns = segments
        words = segments
        if not words and "txt" in files:
            words = [ReferenceSegment("", 0.0, 0.0, files["txt"].read_text())]
        if not turns and not words:
            continue
        uem = read_uem(files["uem"]) if "uem" in files else None
        references[key] = build_reference(key, turns, words, uem, [p.name for p in files.values()])
    return references


# --- scoring -------------------------------------------------------------------------------------


def normalise_for_wer(text: str) -> str:
    """Whisper's English normaliser: case, punctuation, spelled numbers, fillers and tags."""
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()(text)


def _annotation(spans: Iterable[tuple[str, float, float]]):
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for index, (label, start_s, end_s) in enumerate(spans):
        if end_s > start_s:
            annotation[Segment(start_s, end_s), index] = label
    return annotation


def _uem(reference: Reference, duration_s: float):
    from pyannote.core import Segment, Timeline

    spans = reference.uem or [(0.0, duration_s)]
    return Timeline([Segment(start, end) for start, end in spans])


def _inside(time_s: float, spans: list[tuple[float, float]] | None) -> bool:
    return spans is None or any(start <= time_s <= end for start, end in spans)


def word_error_counts(reference_text: str, hypothesis_text: str) -> tuple[int, int]:
    """(errors, reference words) after normalising both sides; jiwer counts the edits."""
    import jiwer

    reference = normalise_for_wer(reference_text).split()
    hypothesis = normalise_for_wer(hypothesis_text).split()
    if not reference:
        return len(hypothesis), 0
    if not hypothesis:
        return len(reference), len(reference)
    output = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    return output.substitutions + output.deletions + output.insertions, len(reference)


def evaluate_call(
    reference: Reference,
    turns: Sequence[Turn],
    words: Sequence[Word],
    duration_s: float,
    *,
    call_id: str = "",
    source: str = "",
    events: Sequence[Event] = (),
    collar_s: float = DEFAULT_COLLAR_S,
    dead_air_overlap_s: float = DEFAULT_DEAD_AIR_OVERLAP_S,
) -> CallEvaluation:
    """Score one call's turns and words against ``reference`` (overlap scored, ``collar_s`` each side)."""
    from pyannote.metrics.detection import DetectionErrorRate
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate
    from pyannote.metrics.identification import IdentificationErrorRate

    uem = _uem(reference, duration_s)
    collar = 2 * collar_s  # pyannote's collar is the total width around a boundary
    ref = _annotation((t.speaker, t.start_s, t.end_s) for t in reference.turns)
    hyp = _annotation((t.speaker, t.start_s, t.end_s) for t in turns)
    timed = bool(reference.turns)
    der = role_der = jer = None
    missed_s = false_alarm_s = confusion_s = 0.0
    missed_by_role: dict[str, float | None] = {}
    false_alarm_by_role: dict[str, float | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyannote warns about labels and approximated UEMs
        if timed:
            details = DiarizationErrorRate(collar=collar, skip_overlap=False)(
                ref, hyp, uem=uem, detailed=True
            )
            der = details["diarization error rate"]
            missed_s, false_alarm_s = details["missed detection"], details["false alarm"]
            confusion_s = details["confusion"]
            jer = JaccardErrorRate(collar=collar, skip_overlap=False)(ref, hyp, uem=uem)
        if timed and reference.has_roles:
            role_ref = ref.rename_labels({label: reference.role(label) for label in ref.labels()})
            role_der = IdentificationErrorRate(collar=collar, skip_overlap=False)(
                role_ref, hyp, uem=uem
            )
            for role in ROLES:
                own_ref = role_ref.subset([role]) if role in role_ref.labels() else None
                if own_ref is None:
                    missed_by_role[role] = false_alarm_by_role[role] = None
                    continue
                own_hyp = hyp.subset([role]) if role in hyp.labels() else _annotation([])
                detection = DetectionErrorRate(collar=collar, skip_overlap=False)(
                    own_ref, own_hyp, uem=uem, detailed=True
                )
                total = detection["total"]
                missed_by_role[role] = detection["miss"] / total if total else None
                false_alarm_by_role[role] = detection["false alarm"]
    reference_speech_s = float(details["total"]) if timed else 0.0  # scored: UEM, collars out

    wer_by_role, reference_words, errors = _word_errors(reference, words)
    dead_air = [event for event in events if event.kind == "dead_air"]
    overlaps = [_speech_under(event, reference) for event in dead_air]
    return CallEvaluation(
        key=reference.key,
        call_id=call_id,
        source=source,
        reference_speech_s=round(reference_speech_s, 3),
        der=der,
        role_der=role_der,
        jer=jer,
        missed_s=round(missed_s, 3),
        false_alarm_s=round(false_alarm_s, 3),
        confusion_s=round(confusion_s, 3),
        missed_by_role=missed_by_role,
        false_alarm_by_role=false_alarm_by_role,
        wer_by_role=wer_by_role,
        reference_words_by_role=reference_words,
        word_errors_by_role=errors,
        dead_air_events=len(dead_air),
        dead_air_over_speech=sum(1 for overlap in overlaps if overlap > dead_air_overlap_s),
        dead_air_max_overlap_s=round(max(overlaps, default=0.0), 3),
    )


def _word_errors(
    reference: Reference, words: Sequence[Word]
) -> tuple[dict[str, float | None], dict[str, int], dict[str, int]]:
    if not reference.words:
        return {}, {}, {}
    words = [w for w in words if _inside((w.start_s + w.end_s) / 2, reference.uem)]
    groups: dict[str, tuple[str, str]] = {}
    ordered = sorted(reference.words, key=lambda s: s.start_s)
    groups["all"] = (
        " ".join(s.text for s in ordered),
        " ".join(w.word for w in sorted(words, key=lambda w: w.start_s)),
    )
    if reference.has_roles or all(reference.role(s.speaker) for s in reference.words):
        for role in ROLES:
            own = [s.text for s in ordered if reference.role(s.speaker) == role]
            if own:
                groups[role] = (" ".join(own), " ".join(w.word for w in words if w.speaker == role))
    rates: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    for group, (reference_text, hypothesis_text) in groups.items():
        error_count, word_count = word_error_counts(reference_text, hypothesis_text)
        errors[group], counts[group] = error_count, word_count
        rates[group] = error_count / word_count if word_count else None
    return rates, counts, errors


def _speech_under(event: Event, reference: Reference) -> float:
    """Seconds of reference speech (anyone's) inside ``event``."""
    from pyannote.core import Segment

    if not reference.turns:
        return 0.0
    timeline = _annotation((t.speaker, t.start_s, t.end_s) for t in reference.turns)
    speech = timeline.get_timeline().support()
    return float(speech.crop(Segment(event.start_s, event.end_s)).duration())


@dataclass
class Summary:
    """Pooled over calls: each rate is total errors over total reference (as pyannote pools)."""

    calls: int
    der: float | None
    role_der: float | None
    mean_role_der: float | None
    worst_role_der: float | None
    missed_by_role: dict[str, float | None]
    wer_by_role: dict[str, float | None]
    dead_air_over_speech: int


def summarise(evaluations: Sequence[CallEvaluation]) -> Summary:
    timed = [e for e in evaluations if e.der is not None]
    total_s = sum(e.reference_speech_s for e in timed)
    der = (
        sum(e.missed_s + e.false_alarm_s + e.confusion_s for e in timed) / total_s
        if total_s
        else None
    )
    role_scored = [e for e in timed if e.role_der is not None]
    role_total = sum(e.reference_speech_s for e in role_scored)
    pooled_role = (
        sum(e.role_der * e.reference_speech_s for e in role_scored) / role_total
        if role_total
        else None
    )
    role_values = [e.role_der for e in role_scored]
    wer: dict[str, float | None] = {}
    for group in ("all", *ROLES):
        counted = [e for e in evaluations if e.reference_words_by_role.get(group)]
        words = sum(e.reference_words_by_role[group] for e in counted)
        wer[group] = sum(e.word_errors_by_role[group] for e in counted) / words if words else None
    missed: dict[str, float | None] = {}
    for role in ROLES:
        values = [e.missed_by_role.get(role) for e in role_scored]
        values = [v for v in values if v is not None]
        missed[role] = sum(values) / len(values) if values else None
    return Summary(
        calls=len(evaluations),
        der=der,
        role_der=pooled_role,
        mean_role_der=sum(role_values) / len(role_values) if role_values else None,
        worst_role_der=max(role_values) if role_values else None,
        missed_by_role=missed,
        wer_by_role=wer,
        dead_air_over_speech=sum(e.dead_air_over_speech for e in evaluations),
    )
