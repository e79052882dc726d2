"""review/flags.py: the moments a reviewer should find, and the queue reasons linked to them."""

from pipeline.review.flags import Flag, ReasonPart, call_flags, reason_links


def _criterion(cid, status, start_s, end_s=None, auto_fail=False, type_="phrase"):
    return {
        "criterion_id": cid, "status": status, "evidence_start_s": start_s,
        "evidence_end_s": end_s, "auto_fail": auto_fail, "type": type_,
    }  # fmt: skip


CRITERIA = [
    _criterion("greeting", "fail", 0.0, 15.0),  # missing step: the window where it was due
    _criterion("recording_disclosure", "fail", 0.0, 12.0, auto_fail=True),
    _criterion("no_profanity", "fail", 40.2, 41.0, type_="forbidden"),
    _criterion("talk_ratio", "fail", None, type_="feature_max"),  # no moment: no flag
    _criterion("closing", "pass", 80.0, 82.0),
    _criterion("hold_etiquette", "fail", 30.0, 31.0, type_="event_count_max"),
]
EVENTS = [
    {"kind": "hold", "start_s": 30.0, "end_s": 60.0, "speaker": "agent", "detail": ""},
    {
        "kind": "talkover",
        "start_s": 70.0,
        "end_s": 71.0,
        "speaker": "customer",
        "detail": "interruption",
    },
    {
        "kind": "interruption",
        "start_s": 70.0,
        "end_s": 71.0,
        "speaker": "customer",
        "detail": "wait",
    },
    {"kind": "dead_air", "start_s": 61.0, "end_s": 69.0, "speaker": "", "detail": "8.0 s"},
    {
        "kind": "low_confidence",
        "start_s": 90.0,
        "end_s": 93.0,
        "speaker": "customer",
        "detail": "4 words",
    },
]
REDACTIONS = [{"kind": "card", "start_s": 50.0, "end_s": 55.0}]


def test_every_kind_of_flag_in_time_order():
    flags = call_flags(CRITERIA, EVENTS, REDACTIONS)
    assert [(f.kind, f.start_s, f.end_s, f.criterion_id) for f in flags] == [
        ("auto_fail", 0.0, 12.0, "recording_disclosure"),
        ("missing_step", 0.0, 15.0, "greeting"),
        ("failed", 30.0, 31.0, "hold_etiquette"),
        ("hold", 30.0, 60.0, None),
        ("forbidden", 40.2, 41.0, "no_profanity"),
        ("redacted", 50.0, 55.0, None),
        ("dead_air", 61.0, 69.0, None),
        ("talkover", 70.0, 71.0, None),  # the interruption is the same moment: one flag
        ("low_confidence", 90.0, 93.0, None),
    ]
    assert flags[1].label == "missing script step: greeting"
    assert flags[7].label == "talk-over (customer): interruption"


def test_reasons_link_the_criteria_they_name():
    flags = call_flags(CRITERIA, EVENTS, REDACTIONS)
    reasons = reason_links(
        "auto-fail: recording_disclosure at 0.0 s; score 40 below pass mark 80 (greeting, talk_ratio);"
        " low confidence: ASR word probability 0.52; random sample of passing calls",
        CRITERIA,
        flags,
    )
    assert reasons == [
        [ReasonPart("auto-fail: "), ReasonPart("recording disclosure", 0.0, "recording_disclosure"), ReasonPart(" at 0.0 s")],
        [ReasonPart("score 40 below pass mark 80 ("), ReasonPart("greeting", 0.0, "greeting"), ReasonPart(", talk_ratio)")],
        [ReasonPart("low confidence: ASR word probability 0.52", 90.0)],
        [ReasonPart("random sample of passing calls")],
    ]  # fmt: skip
    assert reason_links("", CRITERIA, flags) == [] and reason_links(None, [], []) == []
    assert reason_links("low confidence: role confidence 0.4", [], [Flag("hold", 1, 2, "h")]) == [
        [ReasonPart("low confidence: role confidence 0.4")]
    ]
