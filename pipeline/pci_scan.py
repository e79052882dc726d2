"""`callqa pci-scan`: what an auditor runs before a database is shared.

Three checks, each reporting one line per finding (the call, the table and column or file, the
time span, what was found) and never the value itself:

1. Text: every text column of every table, each call's rows read in time order as one text (a
   number split over ``words`` rows is still found), and every file ``callqa export`` wrote.
   A finding is a Luhn-valid card number with a known brand prefix; a run of digits long enough
   to be a card number (13 or more) that no phone, order or reference cue explains; or digits
   said after a card-number, security-code, expiry or PIN cue (three or more; four for a PIN),
   unless they are an amount with its currency, a count with its unit or "ending in 4444".
   Digits are read from digits, number words ("four one one", "twenty eight", "double eight",
   "oh"), and "for/to/won/ate/free" next to them.
2. Listening: each call's redacted audio is transcribed again with Whisper (as the pipeline
   transcribes a call) and every word heard over a redacted stretch or a payment window is read
   the way redaction reads a call: a number there that redaction would have redacted means the
   audio still gives it away.
3. Files: a redacted audio file that is missing or does not match its stored hash.

Pure text checks in the middle, the database and the audio at the edges.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.redact.checks import is_card_number
from pipeline.redact.lexicon import (
    CUES,
    CURRENCY_WORDS,
    DIGIT_WORDS,
    HOMOPHONES,
    MULTIPLIERS,
    NOT_CARD_UNITS,
    OH_WORDS,
    TEENS,
    TENS,
    normalise,
)
from pipeline.redact.options import CARD, CVV, DONE, EXPIRY, NEGATIVE, PIN, TAGS
from pipeline.redact.windows import CARD_NAMES

CARD_MIN_DIGITS, CARD_MAX_DIGITS = 13, 19
# How many words after a cue its value may come, and how many digits make one.
CUE_REACH_WORDS = 10
VALUE_MIN_DIGITS = {CARD: 3, CVV: 3, EXPIRY: 3, PIN: 4}
# How many words before a long number a phone / order cue explains it.
NEGATIVE_REACH_WORDS = 6
_SCANNED_CUES = {
    phrase: kind
    for phrase, kind in CUES.items()
    if kind in (CVV, EXPIRY, PIN) or (kind == CARD and phrase not in CARD_NAMES)
}
_MAX_CUE = max(len(phrase) for phrase in CUES)
_LAST_FOUR = {("ending", "in"), ("ends", "in"), ("last", "four"), ("last", "4"), ("ending", "with")}
# What is not the call's content but holds digits: ids and hashes, paths, timestamps, decimals.
_MASKS = re.compile(
    r"\b(?=[0-9]*[a-f])[0-9a-f]{16,128}\b"  # call ids, sha256 (a letter in them, unlike a card)
    r"|\$argon2\S*"  # password hashes
    r"|(?:[A-Za-z]:)?(?:[/\\][^\s/\\]+)+[/\\]?"  # file paths
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\b"  # dates, timestamps
    r"|\(\d+(?:\.\d+)?-\d+(?:\.\d+)? s, \d+\)"  # a quote's time span and match score
    r"|(?<![\d.])\d+\.\d+(?![\d.])"  # decimals: times, amounts, weights
)
_TAG_TEXTS = frozenset(TAGS.values())


@dataclass(frozen=True)
class Finding:
    """Something a reader (or a listener) could take card data from; never the value."""

    where: str  # "words.word", "export rttm/abc.rttm", "redacted audio"
    what: str  # "Luhn-valid card number (16 digits)"
    call_id: str | None = None
    start_s: float | None = None
    end_s: float | None = None

    def line(self) -> str:
        call = f"call {self.call_id}" if self.call_id else "no call"
        span = (
            f" {self.start_s:.1f}-{self.end_s:.1f} s"
            if self.start_s is not None and self.end_s is not None
            else ""
        )
        return f"{call}  {self.where}{span}: {self.what}"


# ---------------------------------------------------------------------------------------------
# Text


@dataclass(frozen=True)
class _Token:
    norm: str
    digits: str  # what the word says as digits ("" for other words)
    source: int  # which value (row) the word came from


def read_tokens(texts: Iterable[str]) -> list[_Token]:
    """The words of ``texts`` (a call's rows, in order), each with the digits it says."""
    raw: list[tuple[str, int]] = []
    for index, text in enumerate(texts):
        masked = _MASKS.sub(" ", text)
        raw += [(word, index) for word in masked.split()]
    norms = [normalise(word) for word, _ in raw]
    digits = [_digits_of(word, norm) for (word, _), norm in zip(raw, norms, strict=True)]
    for i, norm in enumerate(norms):  # "double eight", "forty one", "oh", "for" next to digits
        if norm in MULTIPLIERS and i + 1 < len(norms) and len(digits[i + 1]) == 1:
            digits[i] = digits[i + 1] * (MULTIPLIERS[norm] - 1)
        elif norm in TENS and i + 1 < len(norms) and norms[i + 1] in DIGIT_WORDS:
            digits[i] = TENS[norm] if DIGIT_WORDS[norms[i + 1]] != "0" else TENS[norm] + "0"
    for i, norm in enumerate(norms):
        if digits[i] or not (norm in OH_WORDS or norm in HOMOPHONES):
            continue
        if (i > 0 and digits[i - 1]) or (i + 1 < len(norms) and digits[i + 1]):
            digits[i] = "0" if norm in OH_WORDS else HOMOPHONES[norm]
    return [
        _Token(norm, d, source) for norm, d, (_, source) in zip(norms, digits, raw, strict=True)
    ]


def _digits_of(word: str, norm: str) -> str:
    if word.strip(".,?!") in _TAG_TEXTS or word.lstrip()[:1] in "$£€¥":
        return ""
    if norm in DIGIT_WORDS:
        return DIGIT_WORDS[norm]
    if norm in TEENS:
        return TEENS[norm]
    if norm in TENS:
        return TENS[norm] + "0"
    return "".join(char for char in norm if "0" <= char <= "9")


def _runs(tokens: list[_Token]) -> list[range]:
    runs, start = [], None
    for i, token in enumerate(tokens):
        if token.digits and start is None:
            start = i
        elif not token.digits and start is not None:
            runs.append(range(start, i))
            start = None
    if start is not None:
        runs.append(range(start, len(tokens)))
    return runs


def scan_tokens(tokens: list[_Token]) -> list[tuple[range, str]]:
    """(the words, what they give away) for every finding in one text."""
    findings: list[tuple[range, str]] = []
    runs = _runs(tokens)
    claimed: set[int] = set()
    for run in runs:
        card = _card_in(tokens, run)
        if card is not None:
            findings.append(card)
            claimed.update(run)
            continue
        digits = sum(len(tokens[i].digits) for i in run)
        if digits >= CARD_MIN_DIGITS and not _cue_before(
            tokens, run[0], NEGATIVE_REACH_WORDS, {NEGATIVE}
        ):
            findings.append((run, f"digit run long enough to be a card number ({digits} digits)"))
            claimed.update(run)
    for run, kind in _values_after_cues(tokens, runs):
        if not claimed.intersection(run):
            digits = sum(len(tokens[i].digits) for i in run)
            findings.append((run, f"{digits} digits after {_KIND_NAMES[kind]} cue"))
    return findings


_KIND_NAMES = {CARD: "a card-number", CVV: "a security-code", EXPIRY: "an expiry", PIN: "a PIN"}


def _card_in(tokens: list[_Token], run: range) -> tuple[range, str] | None:
    """A Luhn-valid number with a brand prefix, starting and ending at word boundaries."""
    for first in run:
        digits = ""
        for last in range(first, run[-1] + 1):
            digits += tokens[last].digits
            if len(digits) > CARD_MAX_DIGITS:
                break
            if len(digits) >= CARD_MIN_DIGITS and is_card_number(digits):
                return range(first, last + 1), f"Luhn-valid card number ({len(digits)} digits)"
    return None


def _cue_at(tokens: list[_Token], i: int, kinds: set[str] | dict) -> tuple[str, int] | None:
    """(kind, length) of a cue phrase of ``kinds`` starting at word ``i``."""
    for length in range(min(_MAX_CUE, len(tokens) - i), 0, -1):
        phrase = tuple(token.norm for token in tokens[i : i + length])
        kind = _SCANNED_CUES.get(phrase) if isinstance(kinds, dict) else CUES.get(phrase)
        if kind is not None and (isinstance(kinds, dict) or kind in kinds):
            return kind, length
    return None


def _cue_before(tokens: list[_Token], i: int, reach: int, kinds: set[str]) -> bool:
    return any(_cue_at(tokens, j, kinds) for j in range(max(0, i - reach), i))


def _values_after_cues(tokens: list[_Token], runs: list[range]) -> list[tuple[range, str]]:
    run_at = {run[0]: run for run in runs}
    found: list[tuple[range, str]] = []
    i = 0
    while i < len(tokens):
        cue = _cue_at(tokens, i, _SCANNED_CUES)
        if cue is None:
            i += 1
            continue
        kind, length = cue
        for j in range(i + length, min(len(tokens), i + length + CUE_REACH_WORDS)):
            if _cue_at(tokens, j, {NEGATIVE, DONE}):
                break  # another question, or the payment is over
            run = run_at.get(j)
            if run is None:
                continue
            if _plainly_not_card(tokens, run):
                break
            if sum(len(tokens[k].digits) for k in run) >= VALUE_MIN_DIGITS[kind]:
                found.append((run, kind))
            break
        i += length
    return found


def _plainly_not_card(tokens: list[_Token], run: range) -> bool:
    after = tokens[run[-1] + 1].norm if run[-1] + 1 < len(tokens) else ""
    before = tuple(token.norm for token in tokens[max(0, run[0] - 2) : run[0]])
    digits = "".join(tokens[k].digits for k in run)
    return (
        after in NOT_CARD_UNITS
        or after in CURRENCY_WORDS
        or (before in _LAST_FOUR and len(digits) == 4)
        or (before[-1:] == ("since",) and len(digits) == 4)
    )


# ---------------------------------------------------------------------------------------------
# The database


@dataclass
class ScanReport:
    findings: list[Finding]
    text_values: int = 0
    columns: int = 0
    export_files: int = 0
    calls_listened: int = 0
    windows_listened: int = 0
    notes: list[str] | None = None


def scan_text_values(values, where: str) -> list[Finding]:
    """Findings in one column's values (``scan_sql.TextValue``), each call's read as one text."""
    findings: list[Finding] = []
    group: list = []

    def flush() -> None:
        if not group:
            return
        tokens = read_tokens(value.text for value in group)
        for words, what in scan_tokens(tokens):
            rows = [group[tokens[i].source] for i in words]
            starts = [row.start_s for row in rows if row.start_s is not None]
            ends = [row.end_s for row in rows if row.end_s is not None]
            findings.append(
                Finding(
                    where, what, rows[0].call_id, min(starts, default=None), max(ends, default=None)
                )
            )
        group.clear()

    for value in values:
        if group and (value.call_id is None or value.call_id != group[-1].call_id):
            flush()
        group.append(value)
    flush()
    return findings


def scan_database(
    db_path: str | Path,
    listen: Callable[[object], list[Finding]] | None = None,
    export_paths: Iterable[Path] = (),
) -> ScanReport:
    """Every check on ``db_path``; ``listen`` (one call's ``CallAudio`` -> findings) does the
    listening, or none is done."""
    from pipeline.store import scan_sql
    from pipeline.store.store import connect_with_retry

    con = connect_with_retry(str(db_path), read_only=True)
    try:
        report = ScanReport([], notes=[])
        for column in scan_sql.text_columns(con):
            values = list(scan_sql.column_values(con, column))
            report.text_values += len(values)
            report.columns += 1
            report.findings += scan_text_values(values, f"{column.table}.{column.column}")
        exported = scan_sql.exported_files(con)
        targets = scan_sql.calls_to_listen(con)
    finally:
        con.close()
    files = [(call_id, Path(path)) for call_id, path in exported]
    files += [(None, path) for path in _files_under(export_paths)]
    for call_id, path in files:
        report.findings += _scan_file(call_id, path, report)
    if listen is not None:
        for target in targets:
            report.calls_listened += 1
            report.windows_listened += len(target.windows)
            report.findings += listen(target)
    return report


def _files_under(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        out += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return out


def _scan_file(call_id: str | None, path: Path, report: ScanReport) -> list[Finding]:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        report.notes.append(f"export {path}: listed but no longer there")
        return []
    except OSError as exc:
        return [Finding(f"export {path}", f"cannot be read ({exc.strerror or exc})", call_id)]
    report.export_files += 1
    tokens = read_tokens(text.splitlines())
    return [Finding(f"export {path}", what, call_id) for _, what in scan_tokens(tokens)]


# ---------------------------------------------------------------------------------------------
# The redacted audio


def heard_leaks(words, spans: list[tuple[float, float]], config) -> list[tuple[float, float]]:
    """Where in ``spans`` the words heard in the redacted audio hold a number that redaction
    would redact: (start_s, end_s) of each such word."""
    from pipeline.redact import redact

    result = redact(words, config)
    leaks = []
    for original, redacted in zip(words, result.words, strict=True):
        if redacted.word == original.word:
            continue
        if any(start <= original.end_s and original.start_s <= end for start, end in spans):
            leaks.append((original.start_s, original.end_s))
    return leaks


def make_listener(settings, models) -> Callable[[object], list[Finding]]:
    """The listening check, with ``settings`` (ASR, VAD, redaction) and loaded ``models``."""

    def listen(target) -> list[Finding]:
        path = target.redacted_audio_path
        if not path:
            return []  # redacted audio switched off: there is nothing a reviewer hears
        if not Path(path).is_file():
            return [Finding("redacted audio", f"missing: {path}", target.call_id)]
        from pipeline.audio import file_sha256

        if target.redacted_sha256 and file_sha256(Path(path)) != target.redacted_sha256:
            return [
                Finding(
                    "redacted audio", "does not match the hash of the redacted copy", target.call_id
                )
            ]
        words = transcribe_file(Path(path), settings, models)
        spans = list(target.windows) + [
            (start - settings.redaction.margin_s, end + settings.redaction.margin_s)
            for start, end in target.redactions
        ]
        leaks = heard_leaks(words, spans, settings.redaction)
        return [
            Finding(
                "redacted audio",
                "number words heard over a redacted stretch or payment window",
                target.call_id,
                start,
                end,
            )
            for start, end in _merge(leaks, settings.redaction.stretch_gap_s)
        ]

    return listen


def transcribe_file(path: Path, settings, models):
    """The words Whisper hears in a recording, found and transcribed as the run does it (the same
    speech detection, ASR and settling); on a dual-channel file each channel's words carry its speaker."""
    from dataclasses import replace

    from pipeline.audio import decode_to_spool
    from pipeline.call import conversation_channels
    from pipeline.transcribe import transcribe_regions
    from pipeline.types import UNKNOWN
    from pipeline.vad import detect_speech, settle_speech

    with decode_to_spool(path, settings.max_duration_s, None, settings.audio) as audio:
        call = conversation_channels(audio)
        activity = detect_speech(
            call, call.sample_rate, settings.vad, settings.bleed, models.silero_vad(), call.source_sample_rate
        )
        heard = transcribe_regions(
            models.whisper(), call, call.sample_rate, activity.speech, settings.asr, activity.candidates
        )
        _, words = settle_speech(activity, heard, settings.vad, settings.bleed)
        stereo = call.channels == 2
    return [
        replace(w, speaker=settings.channel_map.get(w.channel, UNKNOWN) if stereo else UNKNOWN)
        for w in sorted(words, key=lambda w: w.start_s)
    ]


def _merge(spans: list[tuple[float, float]], bridge_s: float) -> list[tuple[float, float]]:
    from pipeline import timeline
    from pipeline.types import Segment

    merged = timeline.merge((Segment(a, max(b, a + 1e-3)) for a, b in spans), bridge_s=bridge_s)
    return [(s.start_s, s.end_s) for s in merged]
