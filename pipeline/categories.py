"""Call reasons: rule-based categories from a versioned YAML file beside the rubric (pure).

Like the categories of AWS Transcribe Call Analytics: a category applies to a call when every one
of its rules holds. Rule types:

``phrases``  one of ``phrases`` is said (fuzzy on lemmas, the rubric's matcher) by ``speaker``
             (agent, customer or any), optionally within the first or last N seconds;
             ``negate: true`` turns it round (none of them is said there)
``measure``  a call measure is at least ``min`` and/or at most ``max``: any ``Features`` field
             (``hold_total_s``, ``agent_interruptions`` ...) or a customer measure
             (``customer_unhappy``, ``customer_end_sentiment`` ..., see ``CUSTOMER_MEASURES``)
``event``    at least ``min_count`` events of kind ``event`` (by ``speaker``, at least
             ``min_duration_s`` long): dead air, holds, interruptions, escalations ...

The file has an ``id``, a ``version`` (a changed file needs a new one: stored calls keep the
reasons of the version they were categorised under), a default ``min_similarity`` and
``categories``, each with ``id``, ``name``, ``description`` and ``rules``. Errors name the file,
the line and the reason, like the rubric's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.features import EVENT_KINDS
from pipeline.features.customer import CustomerSignals
from pipeline.rubric import RubricError, line_at, read_yaml
from pipeline.script import ANY_SPEAKER, Lemmatizer, MatchOptions, WordStream, search_window
from pipeline.types import Event, Features, Turn, Word

DEFAULT_CATEGORIES_PATH = Path(__file__).parent / "rubrics" / "categories.yaml"
FEATURE_NAMES = tuple(f.name for f in dataclasses.fields(Features))
CUSTOMER_MEASURES = (
    "customer_unhappy",
    "customer_escalations",
    "customer_frustrated_turns",
    "customer_mean_sentiment",
    "customer_start_sentiment",
    "customer_end_sentiment",
    "customer_sentiment_trend",
    "customer_unagreed_wait_s",
)
MEASURE_NAMES = FEATURE_NAMES + CUSTOMER_MEASURES


class CategoriesError(RubricError):
    """A categories file that cannot be used; ``str()`` names the file, the line and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhrasesRule(_Strict):
    type: Literal["phrases"]
    phrases: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    speaker: Literal["agent", "customer", "any"] = ANY_SPEAKER
    within_first_s: float | None = Field(None, gt=0)
    within_last_s: float | None = Field(None, gt=0)
    min_similarity: float | None = Field(None, ge=0, le=100)
    negate: bool = False


class MeasureRule(_Strict):
    type: Literal["measure"]
    measure: str
    min: float | None = None
    max: float | None = None

    @field_validator("measure")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in MEASURE_NAMES:
            raise ValueError(f"unknown measure {value!r}; known: {', '.join(MEASURE_NAMES)}")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> MeasureRule:
        if self.min is None and self.max is None:
            raise ValueError("a measure rule needs 'min', 'max' or both")
        return self


class EventRule(_Strict):
    type: Literal["event"]
    event: str
    speaker: Literal["agent", "customer", "any"] = ANY_SPEAKER
    min_count: int = Field(1, ge=1)
    min_duration_s: float = Field(0.0, ge=0)

    @field_validator("event")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {value!r}; known: {', '.join(EVENT_KINDS)}")
        return value


Rule = Annotated[PhrasesRule | MeasureRule | EventRule, Field(discriminator="type")]
_RULE_TYPES = ("phrases", "measure", "event")


class Category(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    description: str = ""
    rules: Annotated[list[Rule], Field(min_length=1)]


class CategorySet(_Strict):
    """A validated categories file."""

    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    description: str = ""
    min_similarity: float = Field(85.0, ge=0, le=100)
    matching: MatchOptions = Field(default_factory=MatchOptions)
    categories: Annotated[list[Category], Field(min_length=1)]


@dataclass(frozen=True)
class CategoryMatch:
    """One call reason that applies, with the evidence a supervisor can check."""

    category_id: str
    name: str
    evidence_text: str
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class CallCategories:
    """The reasons of one call under one version of a categories file."""

    set_id: str
    set_version: int
    matches: tuple[CategoryMatch, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(m.category_id for m in self.matches)


def load_categories(path: str | Path = DEFAULT_CATEGORIES_PATH) -> CategorySet:
    """Read and validate a categories file; ``CategoriesError`` names the file, line and reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CategoriesError(
            str(path), [(None, f"cannot read categories: {exc.strerror or exc}")]
        ) from exc
    return parse_categories(text, str(path))


def parse_categories(text: str, source: str = "<categories>") -> CategorySet:
    data, root = read_yaml(text, source, "the categories file is empty", CategoriesError)
    try:
        categories = CategorySet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _without_union_tag(tuple(error["loc"]))
            where = ".".join(str(part) for part in loc) or "file"
            if len(loc) >= 2 and loc[0] == "categories" and isinstance(loc[1], int):
                named = (
                    (data.get("categories") or [None] * (loc[1] + 1))[loc[1]]
                    if isinstance(data, dict)
                    else None
                )
                if isinstance(named, dict) and isinstance(named.get("id"), str):
                    where = f"category {named['id']!r} ({'.'.join(str(p) for p in loc[2:]) or 'category'})"
            field = str(loc[-1]) if loc else ""
            reason = {
                "missing": f"missing field {field!r}",
                "extra_forbidden": f"unknown field {field!r}",
                "union_tag_not_found": "missing field 'type' (one of phrases, measure, event)",
                "union_tag_invalid": "unknown rule type (one of phrases, measure, event)",
            }.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
            problems.append((line_at(root, loc), f"{where}: {reason}"))
        raise CategoriesError(source, problems) from exc
    seen: dict[str, int] = {}
    problems = []
    for index, category in enumerate(categories.categories):
        line = line_at(root, ("categories", index, "id"))
        if category.id in seen:
            problems.append(
                (line, f"duplicate category id {category.id!r} (first on line {seen[category.id]})")
            )
        seen.setdefault(category.id, line)
    if problems:
        raise CategoriesError(source, problems)
    return categories


def _without_union_tag(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """pydantic puts the rule type after a rule's index (``rules.0.phrases.min``): drop it."""
    for i in range(len(loc) - 2):
        if loc[i] == "rules" and isinstance(loc[i + 1], int) and loc[i + 2] in _RULE_TYPES:
            return loc[: i + 2] + loc[i + 3 :]
    return loc


def customer_measures(customer: CustomerSignals | None) -> dict[str, float]:
    """The customer measures a ``measure`` rule can read (all 0 when not analysed)."""
    if customer is None:
        return dict.fromkeys(CUSTOMER_MEASURES, 0.0)
    return {
        "customer_unhappy": float(customer.unhappy),
        "customer_escalations": float(customer.escalations),
        "customer_frustrated_turns": float(customer.frustrated_turns),
        "customer_mean_sentiment": customer.mean_compound,
        "customer_start_sentiment": customer.start_compound,
        "customer_end_sentiment": customer.end_compound,
        "customer_sentiment_trend": customer.trend,
        "customer_unagreed_wait_s": customer.unagreed_wait_s,
    }


@dataclass(frozen=True)
class _Held:
    text: str
    start_s: float | None = None
    end_s: float | None = None


class _Call:
    def __init__(self, features: Features, events: Sequence[Event], turns: Sequence[Turn], words: Sequence[Word],
                 customer: CustomerSignals | None, lemmatizer: Lemmatizer, categories: CategorySet):  # fmt: skip
        self.features, self.events, self.turns, self.words = features, events, turns, words
        self.measures = {**dataclasses.asdict(features), **customer_measures(customer)}
        self.lemmatizer, self.categories = lemmatizer, categories
        self._streams: dict[str, WordStream] = {}

    def stream(self, speaker: str) -> WordStream:
        if speaker not in self._streams:
            self._streams[speaker] = WordStream(
                self.words, self.lemmatizer, speaker, self.categories.matching
            )
        return self._streams[speaker]


def _phrases(rule: PhrasesRule, call: _Call) -> _Held | None:
    duration_s = max(call.features.handle_time_s, max((w.end_s for w in call.words), default=0.0))
    window = search_window(
        duration_s + 1e-6, within_first_s=rule.within_first_s, within_last_s=rule.within_last_s
    )
    bar = call.categories.min_similarity if rule.min_similarity is None else rule.min_similarity
    match = call.stream(rule.speaker).find_best(rule.phrases, window, bar)
    who = "" if rule.speaker == ANY_SPEAKER else f"{rule.speaker} "
    if rule.negate:
        return (
            None if match.matched else _Held(f"{who}never said any of {len(rule.phrases)} phrases")
        )
    if not match.matched:
        return None
    return _Held(f"{who}said '{match.text}' ({match.start_s:.1f} s)", match.start_s, match.end_s)


def _measure(rule: MeasureRule, call: _Call) -> _Held | None:
    value = float(call.measures[rule.measure])
    if (rule.min is not None and value < rule.min) or (rule.max is not None and value > rule.max):
        return None
    return _Held(f"{rule.measure} = {value:g}")


def _event(rule: EventRule, call: _Call) -> _Held | None:
    events = [
        e
        for e in call.events
        if e.kind == rule.event
        and (rule.speaker == ANY_SPEAKER or e.speaker == rule.speaker)
        and e.end_s - e.start_s >= rule.min_duration_s
    ]
    if len(events) < rule.min_count:
        return None
    first = min(events, key=lambda e: e.start_s)
    detail = f": {first.detail}" if first.detail else ""
    return _Held(
        f"{len(events)} {rule.event} (first at {first.start_s:.1f} s{detail})",
        first.start_s,
        first.end_s,
    )


_RULES = {"phrases": _phrases, "measure": _measure, "event": _event}


def categorise(
    features: Features,
    events: Sequence[Event],
    turns: Sequence[Turn],
    words: Sequence[Word],
    customer: CustomerSignals | None,
    lemmatizer: Lemmatizer,
    categories: CategorySet,
) -> CallCategories:
    """Every category of ``categories`` whose rules all hold on this call, in file order."""
    call = _Call(features, events, turns, words, customer, lemmatizer, categories)
    matches = []
    for category in categories.categories:
        held: list[_Held] = []
        for rule in category.rules:
            result = _RULES[rule.type](rule, call)
            if result is None:
                break
            held.append(result)
        else:
            timed = next((h for h in held if h.start_s is not None), _Held(""))
            matches.append(
                CategoryMatch(
                    category.id,
                    category.name,
                    "; ".join(h.text for h in held),
                    timed.start_s,
                    timed.end_s,
                )
            )
    return CallCategories(categories.id, categories.version, tuple(matches))
