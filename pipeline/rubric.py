"""QA rubric: a YAML file of weighted criteria, validated into a ``Rubric``; errors carry lines.

A rubric has an ``id``, a ``version``, a ``pass_mark`` (0-100), optional ``variables``
(``{company}`` in a phrase becomes the variable's value), a default ``min_similarity`` for phrase
matching, optional ``matching`` options, and ``stages``, each a list of ``criteria``. Criterion
weights over the whole rubric sum to 100. Criterion types:

``phrase``            every group in ``phrases`` must be said (one alternative per group is enough),
                      optionally ``within_first_s``, ``within_last_s``,
                      ``before_first_customer_turn_end``
``forbidden``         none of ``phrases`` may be said (by ``speaker``: agent, customer or any)
``feature_max``/``feature_min``  a ``Features`` field compared with ``threshold``
``event_count_max``   at most ``max_count`` events of kind ``event`` (optionally by ``speaker``,
                      at least ``min_duration_s`` long)
``phrase_after_cue``  after the customer says one of ``cue_phrases`` (or an event of one of
                      ``cue_events`` happens, e.g. ``frustration``), the agent says one of
                      ``phrases`` within ``within_s`` seconds (N/A without a cue)
``order``             one of ``first_phrases`` is said before any of ``then_phrases``

Every criterion also has ``id``, ``description``, ``weight``, ``auto_fail`` (failing it fails the
call) and ``na_when`` (``no_hold``: N/A when the call had no hold; ``no_cue``: N/A when the cue —
the customer's cue or the ``then_phrases`` of an ``order`` — never comes).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.features import EVENT_KINDS
from pipeline.script import ANY_SPEAKER, MatchOptions
from pipeline.types import AGENT, CUSTOMER, Features

DEFAULT_RUBRIC_PATH = Path(__file__).parent / "rubrics" / "default.yaml"
FEATURE_NAMES = tuple(f.name for f in dataclasses.fields(Features))
TOTAL_WEIGHT = 100.0
_WEIGHT_TOLERANCE = 1e-6
_VARIABLE = re.compile(r"\{(\w+)\}")

Speaker = Literal["agent", "customer", "any"]
PhraseList = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class RubricError(ValueError):
    """A rubric that cannot be used; ``str()`` names the file, the line and the reason."""

    def __init__(self, path: str, problems: list[tuple[int | None, str]]) -> None:
        self.path = path
        self.problems = problems
        self.line = problems[0][0] if problems else None
        self.reason = problems[0][1] if problems else ""
        super().__init__(
            "\n".join(
                f"{path}:{line}: {reason}" if line else f"{path}: {reason}"
                for line, reason in problems
            )
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Criterion(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    weight: float = Field(gt=0, le=TOTAL_WEIGHT)
    auto_fail: bool = False
    na_when: Literal["no_hold", "no_cue"] | None = None

    @model_validator(mode="after")
    def _na_when_fits_type(self) -> _Criterion:
        criterion_type = getattr(self, "type", "")
        if self.na_when == "no_cue" and criterion_type not in ("phrase_after_cue", "order"):
            raise ValueError("na_when: no_cue only applies to phrase_after_cue and order criteria")
        return self


class PhraseCriterion(_Criterion):
    """Required phrases: every group must be found; one alternative of a group is enough."""

    type: Literal["phrase"]
    phrases: Annotated[list[PhraseList], Field(min_length=1)]
    speaker: Speaker = AGENT
    within_first_s: float | None = Field(None, gt=0)
    within_last_s: float | None = Field(None, gt=0)
    before_first_customer_turn_end: bool = False
    min_similarity: float | None = Field(None, ge=0, le=100)

    @field_validator("phrases", mode="before")
    @classmethod
    def _single_phrase_is_a_group(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [[item] if isinstance(item, str) else item for item in value]
        return value


class ForbiddenCriterion(_Criterion):
    """None of ``phrases`` may be said by ``speaker``."""

    type: Literal["forbidden"]
    phrases: PhraseList
    speaker: Speaker = AGENT
    min_similarity: float | None = Field(None, ge=0, le=100)


class _FeatureCriterion(_Criterion):
    feature: str
    threshold: float

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, value: str) -> str:
        if value not in FEATURE_NAMES:
            raise ValueError(f"unknown feature {value!r}; known: {', '.join(FEATURE_NAMES)}")
        return value


class FeatureMaxCriterion(_FeatureCriterion):
    """Passes when the feature is at most ``threshold``."""

    type: Literal["feature_max"]


class FeatureMinCriterion(_FeatureCriterion):
    """Passes when the feature is at least ``threshold``."""

    type: Literal["feature_min"]


class EventCountMaxCriterion(_Criterion):
    """Passes with at most ``max_count`` matching events."""

    type: Literal["event_count_max"]
    event: str
    max_count: int = Field(ge=0)
    speaker: Speaker = ANY_SPEAKER
    min_duration_s: float = Field(0.0, ge=0)

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if value not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {value!r}; known: {', '.join(EVENT_KINDS)}")
        return value


class PhraseAfterCueCriterion(_Criterion):
    """After a cue (e.g. customer frustration) the agent must answer with one of ``phrases``.

    The cue is one of ``cue_phrases`` said by ``cue_speaker``, or an event of one of
    ``cue_events`` (e.g. the customer's ``frustration`` or ``escalation``), or either."""

    type: Literal["phrase_after_cue"]
    cue_phrases: PhraseList | None = None
    cue_events: list[str] = Field(default_factory=list)
    cue_speaker: Speaker = CUSTOMER
    phrases: PhraseList
    speaker: Speaker = AGENT
    within_s: float = Field(gt=0)
    cue_min_similarity: float | None = Field(None, ge=0, le=100)
    min_similarity: float | None = Field(None, ge=0, le=100)
    na_when: Literal["no_hold", "no_cue"] | None = "no_cue"

    @field_validator("cue_events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [kind for kind in value if kind not in EVENT_KINDS]
        if unknown:
            raise ValueError(f"unknown event kind {unknown[0]!r}; known: {', '.join(EVENT_KINDS)}")
        return value

    @model_validator(mode="after")
    def _has_a_cue(self) -> PhraseAfterCueCriterion:
        if not self.cue_phrases and not self.cue_events:
            raise ValueError("a phrase_after_cue criterion needs cue_phrases, cue_events or both")
        return self


class OrderCriterion(_Criterion):
    """One of ``first_phrases`` must come before the first of ``then_phrases``."""

    type: Literal["order"]
    first_phrases: PhraseList
    then_phrases: PhraseList
    speaker: Speaker = AGENT
    min_similarity: float | None = Field(None, ge=0, le=100)


Criterion = Annotated[
    PhraseCriterion
    | ForbiddenCriterion
    | FeatureMaxCriterion
    | FeatureMinCriterion
    | EventCountMaxCriterion
    | PhraseAfterCueCriterion
    | OrderCriterion,
    Field(discriminator="type"),
]
CRITERION_TYPES = (
    "phrase",
    "forbidden",
    "feature_max",
    "feature_min",
    "event_count_max",
    "phrase_after_cue",
    "order",
)


class Stage(_Strict):
    """A part of the call (opening, discovery, closing...) and the criteria judged in it."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = ""
    criteria: Annotated[list[Criterion], Field(min_length=1)]


class Rubric(_Strict):
    """A validated rubric; phrases already have their ``{variables}`` filled in."""

    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    description: str = ""
    pass_mark: float = Field(ge=0, le=100)
    variables: dict[str, str] = Field(default_factory=dict)
    min_similarity: float = Field(80.0, ge=0, le=100)
    matching: MatchOptions = Field(default_factory=MatchOptions)
    stages: Annotated[list[Stage], Field(min_length=1)]

    def criteria(self) -> Iterator[tuple[Stage, Criterion]]:
        """Every criterion with its stage, in file order."""
        for stage in self.stages:
            for criterion in stage.criteria:
                yield stage, criterion


def load_rubric(
    path: str | Path = DEFAULT_RUBRIC_PATH, variables: Mapping[str, str] | None = None
) -> Rubric:
    """Read, validate and expand a YAML rubric; ``variables`` override the file's own.

    Raises ``RubricError`` naming the file, the line and the reason for every problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(
            str(path), [(None, f"cannot read rubric: {exc.strerror or exc}")]
        ) from exc
    return parse_rubric(text, str(path), variables)


def parse_rubric(
    text: str, source: str = "<rubric>", variables: Mapping[str, str] | None = None
) -> Rubric:
    """Like :func:`load_rubric` for YAML text; ``source`` names it in errors."""
    data, root = read_yaml(text, source, "the rubric is empty")
    if isinstance(data, dict) and variables:
        data = {**data, "variables": {**(data.get("variables") or {}), **variables}}
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(source, [_describe(error, root, data) for error in exc.errors()]) from exc
    problems = _check_whole(rubric, root)
    if problems:
        raise RubricError(source, problems)
    return _expand_variables(rubric)


def read_yaml(
    text: str, source: str, empty_message: str, error: type[RubricError] = RubricError
) -> tuple[Any, yaml.Node]:
    """YAML text -> (data, node tree for line numbers); ``error`` (file, line, reason) for text
    that is not YAML, is empty, or repeats a key (YAML silently keeps the last)."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise error(source, [(line, f"not valid YAML: {problem}")]) from exc
    if root is None:
        raise error(source, [(None, empty_message)])
    problems = _duplicate_keys(root)
    if problems:
        raise error(source, problems)
    return data, root


def line_at(root: yaml.Node, loc: tuple[str | int, ...]) -> int:
    """The line of the deepest node along ``loc`` (a pydantic error location) in the YAML."""
    return _line(_node_at(root, loc))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _key_line(node: yaml.Node, key: str) -> int:
    """The line of ``key`` itself in a mapping (its value may start on the next line)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if key_node.value == key:
                return _line(key_node)
    return _line(node)


def _child(node: yaml.Node, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        return next((v for k, v in node.value if k.value == key), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _node_at(root: yaml.Node, loc: tuple[str | int, ...]) -> yaml.Node:
    """The deepest node along ``loc``; parts that are not in the YAML (union tags, a missing
    field) are skipped, so a missing field points at the mapping it is missing from."""
    node = root
    for key in loc:
        child = _child(node, key)
        if child is not None:
            node = child
    return node


def _criterion_id(data: Any, loc: tuple[str | int, ...]) -> str | None:
    if len(loc) >= 4 and loc[0] == "stages" and loc[2] == "criteria":
        try:
            criterion = data["stages"][loc[1]]["criteria"][loc[3]]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(criterion, dict) and isinstance(criterion.get("id"), str):
            return criterion["id"]
    return None


def _describe(error: Mapping[str, Any], root: yaml.Node, data: Any) -> tuple[int, str]:
    loc = tuple(error["loc"])
    kind = error["type"]
    in_yaml = [part for part in loc if isinstance(part, int) or part not in CRITERION_TYPES]
    if kind in ("missing", "extra_forbidden") and in_yaml:
        in_yaml = in_yaml[:-1]  # the reason names the field
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in in_yaml)
    where = where.lstrip(".") or "rubric"
    criterion_id = _criterion_id(data, loc)
    if criterion_id:
        where = f"criterion {criterion_id!r} ({where})"
    field = str(loc[-1]) if loc else ""
    if kind == "missing":
        reason = f"missing field {field!r}"
    elif kind == "extra_forbidden":
        reason = f"unknown field {field!r}"
    elif kind == "union_tag_not_found":
        reason = f"missing field 'type' (one of {', '.join(CRITERION_TYPES)})"
    elif kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", "?")
        reason = f"unknown criterion type {tag!r} (one of {', '.join(CRITERION_TYPES)})"
    else:
        reason = str(error["msg"]).removeprefix("Value error, ")
    return _line(_node_at(root, loc)), f"{where}: {reason}"


def _duplicate_keys(node: yaml.Node) -> list[tuple[int | None, str]]:
    """YAML silently keeps the last of two equal keys; a rubric must not."""
    problems: list[tuple[int | None, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                problems.append((_line(key), f"duplicate key {key.value!r}"))
            seen.add(key.value)
            problems.extend(_duplicate_keys(value))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item))
    return problems


def _check_whole(rubric: Rubric, root: yaml.Node) -> list[tuple[int | None, str]]:
    """Checks that span criteria: unique ids, weights summing to 100, known variables."""
    problems: list[tuple[int | None, str]] = []
    seen_stages: set[str] = set()
    seen_criteria: dict[str, int] = {}
    total = 0.0
    for s, stage in enumerate(rubric.stages):
        stage_node = _node_at(root, ("stages", s))
        if stage.id in seen_stages:
            problems.append(
                (_line(_node_at(stage_node, ("id",))), f"duplicate stage id {stage.id!r}")
            )
        seen_stages.add(stage.id)
        for c, criterion in enumerate(stage.criteria):
            node = _node_at(stage_node, ("criteria", c))
            total += criterion.weight
            if criterion.id in seen_criteria:
                first_line = seen_criteria[criterion.id]
                problems.append(
                    (
                        _line(_node_at(node, ("id",))),
                        f"duplicate criterion id {criterion.id!r} (first on line {first_line})",
                    )
                )
            else:
                seen_criteria[criterion.id] = _line(_node_at(node, ("id",)))
            for field_name, position, phrase in _phrases_of(criterion):
                for name in _VARIABLE.findall(phrase):
                    if name not in rubric.variables:
                        line = _line(_node_at(node, (field_name, *position)))
                        problems.append(
                            (
                                line,
                                (
                                    f"criterion {criterion.id!r}: unknown variable {{{name}}} "
                                    f"in {phrase!r}; define it under 'variables'"
                                ),
                            )
                        )
    if abs(total - TOTAL_WEIGHT) > _WEIGHT_TOLERANCE:
        problems.append(
            (
                _key_line(root, "stages"),
                f"criterion weights sum to {total:g}, not {TOTAL_WEIGHT:g}",
            )
        )
    return problems


_PHRASE_FIELDS = ("phrases", "cue_phrases", "first_phrases", "then_phrases")


def _phrases_of(criterion: BaseModel) -> Iterator[tuple[str, tuple[int, ...], str]]:
    """``(field, position, phrase)`` for every phrase of a criterion."""
    for field_name in _PHRASE_FIELDS:
        value = getattr(criterion, field_name, None)
        if not value:
            continue
        for i, item in enumerate(value):
            if isinstance(item, list):
                for j, phrase in enumerate(item):
                    yield field_name, (i, j), phrase
            else:
                yield field_name, (i,), item


def _fill(phrase: str, variables: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: variables[m.group(1)], phrase)


def _expand_variables(rubric: Rubric) -> Rubric:
    stages = []
    for stage in rubric.stages:
        criteria = []
        for criterion in stage.criteria:
            update: dict[str, Any] = {}
            for field_name in _PHRASE_FIELDS:
                value = getattr(criterion, field_name, None)
                if not value:
                    continue
                update[field_name] = [
                    [_fill(p, rubric.variables) for p in item]
                    if isinstance(item, list)
                    else _fill(item, rubric.variables)
                    for item in value
                ]
            criteria.append(criterion.model_copy(update=update))
        stages.append(stage.model_copy(update={"criteria": criteria}))
    return rubric.model_copy(update={"stages": stages})
