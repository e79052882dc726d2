"""The detectors: card numbers, cue-led values, follow-on expiry and code, literals, read-backs."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from pipeline.redact.checks import (
    CARD_FIRST_DIGITS,
    fits,
    iban_ok,
    is_card_number,
    is_expiry,
    ssn_literal_ok,
)
from pipeline.redact.identity import identity_findings
from pipeline.redact.lexicon import DATE_PREPOSITIONS, STRIP, Group, lex_item, parse_groups
from pipeline.redact.options import (
    ACCOUNT,
    CARD,
    CVV,
    DOB,
    EMAIL,
    EXPIRY,
    IBAN,
    KINDS,
    NEGATIVE,
    PIN,
    ROUTING,
    SSN,
    Redaction,
    RedactionConfig,
)
from pipeline.redact.runs import (
    Call,
    Finding,
    Run,
    Segment,
    fresh_cue,
    governing_cue,
    is_card_talk,
    is_echo,
    number_requested,
    views_of,
)
from pipeline.types import UNKNOWN

_EMAIL_LITERAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_TLDS = frozenset({"com", "net", "org", "edu", "gov", "co", "uk", "io", "us", "ca", "de"})
_EMAIL_CONNECTORS = frozenset({"dot", "underscore", "dash", "hyphen", "period"})


# ---------------------------------------------------------------------------------------------
# Detectors


def find_tags(call: Call, config: RedactionConfig) -> dict[int, str]:
    enabled = config.enabled_kinds()
    views = views_of(call, config)
    findings: list[Finding] = []
    if CARD in enabled or EXPIRY in enabled or CVV in enabled:
        for runs in views:
            for run in runs:
                findings.extend(_card_findings(call, run, config, enabled))
    # Cue-led values start after what the card detector took: "card number, expiry and
    # security code please" is followed by all three, not by a security code first.
    taken = frozenset(p for finding in findings for p in finding.positions)
    answered: set[int] = set()
    for runs in views:
        findings.extend(_cued_findings(call, runs, config, enabled, taken, answered))
    findings.extend(_literal_findings(call, enabled))
    findings.extend(identity_findings(call, config, enabled))
    if EXPIRY in enabled:
        findings.extend(_slash_expiry_findings(call, findings, config))
    if enabled & {CARD, EXPIRY, CVV}:
        findings.extend(_follow_on_findings(call, findings, config, enabled))
    if EMAIL in enabled:
        findings.extend(_email_findings(call))
    findings.extend(_echo_findings(call, findings, config))
    priority = {kind: rank for rank, kind in enumerate(KINDS)}
    tags: dict[int, str] = {}
    for finding in findings:
        if finding.kind not in enabled:
            continue
        for position in finding.positions:
            current = tags.get(position)
            if current is None or priority[finding.kind] < priority[current]:
                tags[position] = finding.kind
    return tags


@dataclass(frozen=True)
class _Window:
    digits: str
    positions: tuple[int, ...]
    start: tuple[int, int]  # (segment index, group index) of the first group
    end: tuple[int, int]  # and of the last


# How freely a card number may sit inside a run, by what was said before it.
_LOOSE = "loose"  # after a card cue: start and end at any group
_STRICT = "strict"  # no cue: start where a segment starts; end where one ends, or before
# the expiry and security code said in the same breath
_WHOLE = "whole"  # after a phone / order / reference cue: only the whole run


def _card_windows(run: Run, mode: str) -> list[_Window]:
    """Luhn-valid card numbers with a brand prefix in a run, read-backs skipped."""
    segments = run.segments
    found: list[_Window] = []
    for first_segment, segment in enumerate(segments):
        if segment.is_quantity:
            continue
        if mode == _LOOSE:
            starts = range(len(segment.groups))
        elif segment.groups[0].from_oh and len(segment.groups) > 1:
            starts = range(2)  # "oh, four one one one": the "oh" may be an interjection
        else:
            starts = range(1)
        for first_group in starts:
            start = (first_segment, first_group)
            stack = [(first_segment, first_group, "", ())]
            while stack:
                s, g, before, positions = stack.pop()
                groups = segments[s].groups
                positions += groups[g].positions
                at_end = g == len(groups) - 1
                for reading in groups[g].readings():
                    digits = before + reading
                    if len(digits) > 19:
                        continue
                    if (
                        len(digits) >= 13
                        and is_card_number(digits)
                        and (
                            mode == _LOOSE
                            or (
                                mode == _STRICT and (at_end or _is_expiry_and_code(groups[g + 1 :]))
                            )
                            or (at_end and s == len(segments) - 1)
                        )
                    ):
                        found.append(_Window(digits, positions, start, (s, g)))
                    if not at_end:
                        stack.append((s, g + 1, digits, positions))
                        continue
                    following = s + 1
                    speaker = segments[s].speaker
                    skipped = positions
                    while following < len(segments) and not segments[following].is_quantity:
                        stack.append((following, 0, digits, skipped))
                        if not is_echo(segments[following], digits, speaker):
                            break
                        skipped += segments[following].positions  # read-back: redact, skip
                        following += 1
        if mode == _WHOLE:
            break
    return found


def _is_expiry_and_code(groups: list[Group]) -> bool:
    """The groups are an expiry date, optionally followed by a 3-4 digit security code."""
    for end in range(1, len(groups) + 1):
        if _expiry_groups_ok(groups[:end]):
            rest = len(_joined(groups[end:]))
            if rest == 0 or rest in (3, 4):
                return True
    return False


def _card_fallback(call: Call, run: Run, config: RedactionConfig) -> _Window | None:
    """After a card cue: the first 13-19 digits of the run even if the checksum fails. Once
    there are 13, a later segment counts only if it goes straight on: after a question from
    the other side it is the expiry ("... one 8 -8, one" / "the expiry?" / "12 -28,")."""
    digits, positions = "", ()
    start = end = (0, 0)
    previous: Segment | None = None
    for s, segment in enumerate(run.segments):
        if segment.is_quantity:
            if digits:
                break
            continue
        if not digits:
            start = (s, 0)
        if digits and s > 0 and is_echo(segment, digits, run.segments[s - 1].speaker):
            positions += segment.positions
            continue
        if len(digits) >= 13 and previous and not _straight_on(call, previous, segment, config):
            break
        previous = segment
        for g, group in enumerate(segment.groups):
            if len(digits) + len(group.digits) > 19:
                return _Window(digits, positions, start, end) if len(digits) >= 13 else None
            digits += group.digits
            positions += group.positions
            end = (s, g)
    return _Window(digits, positions, start, end) if len(digits) >= 13 else None


def _card_findings(
    call: Call, run: Run, config: RedactionConfig, enabled: frozenset[str]
) -> list[Finding]:
    first, last = run.segments[0].first, run.segments[-1].last
    card_talk = is_card_talk(call, first, config.cue_window_words) or any(
        call.cue_kinds[p] == CARD for p in range(first, last + 1)
    )
    # A number asked for without a card cue ("the current number") may also fail the checksum.
    requested = card_talk
    if card_talk:
        mode = _LOOSE
    else:
        cue = fresh_cue(call, first, config.cue_window_words)
        mode = _WHOLE if cue is not None and cue[0] == NEGATIVE else _STRICT
        requested = mode == _STRICT and number_requested(call, first, config.cue_window_words)
    windows = _card_windows(run, mode)
    if not windows and requested:
        fallback = _card_fallback(call, run, config)
        # Without a card cue, only what starts like a card (2-6; "0044 20 ..." is a phone).
        if fallback is not None and (card_talk or fallback.digits[0] in CARD_FIRST_DIGITS):
            windows = [fallback]
    if not windows:
        return []
    findings = [Finding(CARD, frozenset(w.positions), w.digits) for w in windows]
    if card_talk:
        # False starts before the card number: "4111 1112, sorry, 4111 1111 1111 1111"
        first_segment = min(w.start for w in windows)[0]
        for segment in run.segments[:first_segment]:
            if not segment.is_quantity:
                findings.append(Finding(CARD, frozenset(segment.positions), segment.digits))
    longest = max(windows, key=lambda w: (w.end, len(w.digits)))
    findings.extend(_after_card(call, run, longest, enabled, config))
    return findings


def _after_card(
    call: Call, run: Run, card: _Window, enabled: frozenset[str], config: RedactionConfig
) -> list[Finding]:
    """What follows a card number in the same run: the expiry and security code, without
    their cues; or, when no expiry comes first, the rest of the digits said in the same breath
    (a checksum that matched too early, a digit too many, an ASR repetition loop) as card."""
    tail: list[Group] = []
    joined: list[bool] = []  # each tail group goes straight on from the one before
    s, g = card.end
    previous = run.segments[s]
    for index in range(s, len(run.segments)):
        segment = run.segments[index]
        if segment.is_quantity:
            break
        if index == s:
            groups = segment.groups[g + 1 :]
            joined.extend([True] * len(groups))
        else:
            straight_on = _straight_on(call, previous, segment, config)
            read_back = len(segment.digits) >= 3 and segment.digits in card.digits
            if not straight_on and (read_back or _other_speaker(segment, run.segments[s])):
                continue  # a read-back, or the other side's question ("the Atari 8?")
            groups = segment.groups
            joined.extend([straight_on] + [True] * (len(groups) - 1))
            previous = segment
        tail.extend(groups)
    findings: list[Finding] = []
    start = 0
    if _prefix_fitting(tail, 0, _expiry_groups_ok, preferred=(4, 6, 3, 5)) is None:
        while start < len(tail) and joined[start]:
            start += 1
        if start:
            findings.append(_group_finding(CARD, tail[:start]))
    expiry_end = _prefix_fitting(tail, start, _expiry_groups_ok, preferred=(4, 6, 3, 5))
    if expiry_end is None:
        return findings
    if EXPIRY in enabled:
        findings.append(_group_finding(EXPIRY, tail[start:expiry_end]))
    cvv_end = _prefix_fitting(
        tail, expiry_end, lambda groups: fits(CVV, _joined(groups)), preferred=(3, 4)
    )
    if cvv_end is not None and CVV in enabled:
        findings.append(_group_finding(CVV, tail[expiry_end:cvv_end]))
    return findings


def _other_speaker(segment: Segment, other: Segment) -> bool:
    return segment.speaker != other.speaker and UNKNOWN not in (segment.speaker, other.speaker)


def _straight_on(call: Call, left: Segment, right: Segment, config: RedactionConfig) -> bool:
    """``right`` goes straight on from ``left``: soon after, with only fillers between, or
    with nothing at all between when another speaker said it (diarization splits one
    speaker's long number; "thank you, one moment" is not more of it)."""
    if right.start_s - left.end_s > config.continuation_gap_s:
        return False
    if _other_speaker(left, right):
        return right.first == left.last + 1
    return all(call.classes[p] == "filler" for p in range(left.last + 1, right.first))


def _joined(groups: list[Group]) -> str:
    return "".join(group.digits for group in groups)


def _expiry_groups_ok(groups: list[Group]) -> bool:
    """An expiry date; three digits only as month + two-digit year ("nine twenty eight"),
    so that a bare "one two three" after a card is read as the security code."""
    digits = _joined(groups)
    if not is_expiry(digits):
        return False
    return len(digits) != 3 or len(groups[-1].digits) == 2


def _prefix_fitting(groups: list[Group], start: int, check, preferred: tuple[int, ...]):
    """End index of the prefix of ``groups[start:]`` that passes ``check``, taking the first
    digit count in ``preferred`` that has one."""
    by_length: dict[int, int] = {}
    digits = 0
    for end in range(start, len(groups)):
        digits += len(groups[end].digits)
        if check(groups[start : end + 1]):
            by_length.setdefault(digits, end + 1)
        if digits >= max(preferred):
            break
    for length in preferred:
        if length in by_length:
            return by_length[length]
    return None


def _group_finding(kind: str, groups: list[Group]) -> Finding:
    return Finding(
        kind,
        frozenset(p for group in groups for p in group.positions),
        "".join(group.digits for group in groups),
    )


def _cued_findings(
    call: Call,
    runs: list[Run],
    config: RedactionConfig,
    enabled: frozenset[str],
    taken: frozenset[int],
    answered: set[int],
) -> list[Finding]:
    """For each cue, the first value after it (within the window) that has the right shape,
    among the segments no card detector took; ``answered`` (cue positions) is shared by the
    views, so that a cue answered in one is not answered again in another."""
    findings: list[Finding] = []
    for run in runs:
        for index, segment in enumerate(run.segments):
            if segment.is_quantity or taken.intersection(segment.positions):
                continue
            cue = governing_cue(call, segment.first, config.cue_window_words)
            if cue is None or cue[1] in answered:
                continue
            kind = cue[0]
            if kind not in (CVV, EXPIRY, ACCOUNT, ROUTING, SSN, PIN) or kind not in enabled:
                continue
            finding = _value_after(run, index, kind, taken)
            if finding is not None:
                findings.append(finding)
                answered.add(cue[1])
    return findings


def _value_after(run: Run, index: int, kind: str, taken: frozenset[int]) -> Finding | None:
    """The longest chain of whole segments from ``index`` (read-backs skipped) that fits."""
    digits, positions = "", ()
    best: Finding | None = None
    speaker = run.segments[index].speaker
    for segment in run.segments[index:]:
        if segment.is_quantity or taken.intersection(segment.positions):
            break
        if digits and is_echo(segment, digits, speaker):
            positions += segment.positions
            if best is not None:
                best = Finding(kind, frozenset(positions), best.digits)
            continue
        if segment.speaker != speaker and UNKNOWN not in (speaker, segment.speaker):
            break  # "421," / "Thank you, one moment": the other side's number is not the rest
        digits += segment.digits
        positions += segment.positions
        if len(digits) > 19:
            break
        if fits(kind, digits):
            best = Finding(kind, frozenset(positions), digits)
    first = run.segments[index]
    if best is None and first.lead is not None and first.lead[0] not in taken:
        led = _led_value(first, kind)  # "the security code is for 2 1"
        if led is not None:
            best = led
    return best


def _led_value(segment: Segment, kind: str) -> Finding | None:
    """The segment read with the homophone before it ("for 2 1" -> "421"), if only that
    reading has the shape of ``kind``."""
    if segment.lead is None or fits(kind, segment.digits):
        return None
    position, digit = segment.lead
    if not fits(kind, digit + segment.digits):
        return None
    return Finding(kind, frozenset((position, *segment.positions)), digit + segment.digits)


@dataclass
class _Following:
    """A card number just given, and what its speaker has said after it so far."""

    speaker: str
    complete: bool  # the checksum passed, or sixteen digits or more were heard
    end_s: float
    last: int
    expiry: bool = False
    cvv: bool = False


# Cues after which the card's speaker is answering another question.
_OTHER_QUESTION_CUES = frozenset({NEGATIVE, ACCOUNT, ROUTING, SSN, PIN, DOB, IBAN})


def _follow_on_findings(
    call: Call, found: list[Finding], config: RedactionConfig, enabled: frozenset[str]
) -> list[Finding]:
    """The card's speaker's next numbers, in order: the rest of a card number that is still
    short (said straight on), the expiry, then the security code, each within
    ``follow_window_s`` of the last, when the cue for them was misheard or never said."""
    kinds_at: dict[int, set[str]] = {}
    for finding in found:
        for p in finding.positions:
            kinds_at.setdefault(p, set()).add(finding.kind)
    complete = {
        p
        for finding in found
        if finding.kind == CARD and (is_card_number(finding.digits) or len(finding.digits) >= 16)
        for p in finding.positions
    }
    findings: list[Finding] = []
    state: _Following | None = None
    for segment in call.segments:
        kinds = set().union(*(kinds_at.get(p, ()) for p in segment.positions))
        if state is not None and (
            segment.start_s - state.end_s > config.follow_window_s
            or any(
                call.cue_kinds[p] in _OTHER_QUESTION_CUES
                for p in range(state.last + 1, segment.first)
            )
        ):
            state = None
        if CARD in kinds:
            if state is None:
                state = _Following(segment.speaker, False, segment.end_s, segment.last)
            state.complete = state.complete or bool(complete.intersection(segment.positions))
            state.end_s, state.last = max(state.end_s, segment.end_s), segment.last
            continue
        if state is None or segment.speaker != state.speaker or segment.is_quantity:
            continue  # the other side's talk (a question, a read-back) does not end the wait
        if kinds:
            state.expiry = state.expiry or EXPIRY in kinds
            state.cvv = state.cvv or CVV in kinds
        else:
            finding = _next_value(call, state, segment, config)
            if finding is None:
                state = None
                continue
            findings.append(finding)
            state.expiry = state.expiry or finding.kind == EXPIRY
            state.cvv = state.cvv or finding.kind == CVV
        state.end_s, state.last = segment.end_s, segment.last
        if state.expiry and state.cvv:
            state = None
    return [finding for finding in findings if finding.kind in enabled]


def _next_value(
    call: Call, state: _Following, segment: Segment, config: RedactionConfig
) -> Finding | None:
    """What the card's speaker's next number is, by what has been said so far; None when it
    is none of them (the follow-on stops there)."""
    positions = frozenset(segment.positions)
    if (
        not state.complete
        and not state.expiry
        and segment.start_s - state.end_s <= config.continuation_gap_s
        and all(call.classes[p] == "filler" for p in range(state.last + 1, segment.first))
    ):
        return Finding(CARD, positions, segment.digits)
    said_on_a_date = segment.first > 0 and call.norms[segment.first - 1] in DATE_PREPOSITIONS
    if not state.expiry and _expiry_groups_ok(segment.groups) and not said_on_a_date:
        return Finding(EXPIRY, positions, segment.digits)
    if state.expiry and not state.cvv:
        if fits(CVV, segment.digits):
            return Finding(CVV, positions, segment.digits)
        return _led_value(segment, CVV)
    return None


def _literal_findings(call: Call, enabled: frozenset[str]) -> list[Finding]:
    """Values whose written form says what they are: 123-45-6789, GB82WEST12345698765432."""
    findings: list[Finding] = []
    for p, word in enumerate(call.words):
        if SSN in enabled and ssn_literal_ok(call.norms[p]):
            findings.append(Finding(SSN, frozenset({p}), call.norms[p].replace("-", "")))
        bare = word.word.strip().strip(STRIP).replace(" ", "")
        if IBAN in enabled and iban_ok(bare):
            findings.append(Finding(IBAN, frozenset({p}), bare))
    return findings


def _slash_expiry_findings(
    call: Call, found: list[Finding], config: RedactionConfig
) -> list[Finding]:
    """A bare "09/28" or "twelve/27" near card talk is an expiry date."""
    card_positions = sorted(
        {p for finding in found if finding.kind == CARD for p in finding.positions}
        | {p for p, kind in enumerate(call.cue_kinds) if kind in (CARD, CVV, EXPIRY)}
    )
    findings: list[Finding] = []
    window = config.context_window_words
    for p, norm in enumerate(call.norms):
        if "/" not in norm or call.classes[p] != "num":
            continue
        halves = norm.split("/")
        if len(halves) != 2:
            continue
        digits = [parse_groups([i for i in (lex_item(h, p),) if i is not None]) for h in halves]
        if not all(len(groups) == 1 for groups in digits):
            continue
        month, year = digits[0][0].digits, digits[1][0].digits
        if not (1 <= int(month) <= 12 and (len(year) == 2 or year.startswith("20"))):
            continue
        if p > 0 and call.norms[p - 1] in DATE_PREPOSITIONS:
            continue
        if any(abs(q - p) <= window for q in card_positions):
            findings.append(Finding(EXPIRY, frozenset({p}), month + year))
    return findings


def _email_findings(call: Call) -> list[Finding]:
    """Written addresses, and spoken ones: "john dot smith at gmail dot com"."""
    findings: list[Finding] = []
    norms = call.norms
    n = len(norms)
    for p, word in enumerate(call.words):
        if _EMAIL_LITERAL.search(word.word):
            findings.append(Finding(EMAIL, frozenset({p}), ""))
            continue
        if norms[p] != "at" or p == 0 or p + 1 >= n:
            continue
        # domain: "gmail.com" as one word, or "gmail dot com [dot uk]"
        end = p + 1
        if "." in norms[end] and norms[end].rsplit(".", 1)[-1] in _EMAIL_TLDS:
            pass
        elif end + 2 < n and norms[end + 1] == "dot" and norms[end + 2] in _EMAIL_TLDS:
            end += 2
            while end + 2 < n and norms[end + 1] == "dot" and norms[end + 2] in _EMAIL_TLDS:
                end += 2
        else:
            continue
        start = p - 1
        while start - 2 >= 0 and norms[start - 1] in _EMAIL_CONNECTORS:
            start -= 2
        findings.append(Finding(EMAIL, frozenset(range(start, end + 1)), ""))
    return findings


def _echo_findings(call: Call, found: list[Finding], config: RedactionConfig) -> list[Finding]:
    """Read-backs: a segment near a found value that repeats it, or four or more of its
    digits, is redacted as that value's kind."""
    taken = {p for finding in found for p in finding.positions}
    starts_s = [segment.start_s for segment in call.segments]  # in time order
    findings: list[Finding] = []
    for finding in found:
        if len(finding.digits) < 3 or not finding.digits.isdigit():
            continue
        start_s = min(call.words[p].start_s for p in finding.positions)
        end_s = max(call.words[p].end_s for p in finding.positions)
        first = bisect_left(starts_s, start_s - config.echo_window_s)
        last = bisect_right(starts_s, end_s + config.echo_window_s)
        for segment in call.segments[first:last]:
            said = segment.digits
            if said != finding.digits and not (len(said) >= 4 and said in finding.digits):
                continue
            if segment.is_quantity or taken.intersection(segment.positions):
                continue
            cue = governing_cue(call, segment.first, config.cue_window_words)
            if cue is not None and cue[0] == NEGATIVE:
                continue
            findings.append(Finding(finding.kind, frozenset(segment.positions), said))
    return findings


def redaction_spans(call: Call, tags: dict[int, str]) -> list[Redaction]:
    spans: list[Redaction] = []
    current: Redaction | None = None
    for position, word in enumerate(call.words):
        kind = tags.get(position)
        if kind is None:
            current = None
            continue
        if current is not None and current.kind == kind:
            current = Redaction(kind, current.start_s, max(current.end_s, word.end_s))
            spans[-1] = current
        else:
            current = Redaction(kind, word.start_s, word.end_s)
            spans.append(current)
    return spans
