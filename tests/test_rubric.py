"""rubric.py: the default rubric loads; every broken rubric names its file, line and reason."""

from __future__ import annotations

import textwrap

import pytest

from pipeline.rubric import (
    DEFAULT_RUBRIC_PATH,
    EventCountMaxCriterion,
    PhraseCriterion,
    RubricError,
    load_rubric,
    parse_rubric,
)

GOOD = textwrap.dedent(
    """\
    id: test-rubric
    version: 2
    pass_mark: 75
    variables:
      company: Acme Telecom
    stages:
      - id: opening
        criteria:
          - id: greeting
            description: greets with the company name
            weight: 60
            type: phrase
            within_first_s: 15
            phrases:
              - ["thank you for calling {company}", "welcome to {company}"]
              - my name is
          - id: dead_air
            description: no long silences
            weight: 40
            type: event_count_max
            event: dead_air
            min_duration_s: 10
            max_count: 0
    """
)  # greeting: lines 9-16 (weight on 11, second phrase group on 16); dead_air: lines 17-23


def write(tmp_path, text, name="rubric.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rejected(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    error = caught.value
    assert str(error).startswith(f"{path}:{error.line}: ")  # file, line, reason
    return error


def test_default_rubric_loads_with_its_criteria():
    rubric = load_rubric()
    assert (rubric.id, rubric.version, rubric.pass_mark) == ("contact-center-default", 1, 80.0)
    ids = [criterion.id for _, criterion in rubric.criteria()]
    assert ids == [
        "greeting",
        "recording_disclosure",
        "verification",
        "empathy",
        "hold_etiquette",
        "no_dead_air_over_10s",
        "interruptions",
        "resolution",
        "closing",
        "forbidden_phrases",
    ]
    assert sum(criterion.weight for _, criterion in rubric.criteria()) == pytest.approx(100.0)
    criteria = {c.id: c for _, c in rubric.criteria()}
    assert criteria["recording_disclosure"].auto_fail
    assert criteria["forbidden_phrases"].auto_fail
    assert criteria["greeting"].phrases[0][0] == "thank you for calling Acme Telecom"
    assert DEFAULT_RUBRIC_PATH.name == "default.yaml"


def test_variables_fill_phrases_and_can_be_overridden(tmp_path):
    rubric = load_rubric(write(tmp_path, GOOD), variables={"company": "Globex"})
    greeting = next(c for _, c in rubric.criteria())
    assert isinstance(greeting, PhraseCriterion)
    assert greeting.phrases == [
        ["thank you for calling Globex", "welcome to Globex"],
        ["my name is"],
    ]
    dead_air = [c for _, c in rubric.criteria()][1]
    assert isinstance(dead_air, EventCountMaxCriterion)
    assert (dead_air.speaker, dead_air.min_duration_s) == ("any", 10.0)


def test_bad_yaml(tmp_path):
    error = rejected(tmp_path, GOOD.replace("    weight: 60", "    weight: [60"))
    assert error.line == 12
    assert "not valid YAML" in error.reason


def test_weights_not_summing_to_100(tmp_path):
    error = rejected(tmp_path, GOOD.replace("weight: 40", "weight: 30"))
    assert error.line == 6  # the "stages:" key
    assert error.reason == "criterion weights sum to 90, not 100"


def test_unknown_feature(tmp_path):
    text = GOOD.replace(
        "type: event_count_max\n        event: dead_air\n        min_duration_s: 10\n"
        "        max_count: 0",
        "type: feature_max\n        feature: talk_ratio\n        threshold: 0.7",
    )
    error = rejected(tmp_path, text)
    assert error.line == 21
    assert error.reason.startswith(
        "criterion 'dead_air' (stages[0].criteria[1].feature): unknown feature 'talk_ratio'; "
        "known: handle_time_s,"
    )


def test_unknown_type(tmp_path):
    error = rejected(tmp_path, GOOD.replace("type: event_count_max", "type: keyword"))
    assert error.line == 17  # the criterion's first line
    assert error.reason.startswith(
        "criterion 'dead_air' (stages[0].criteria[1]): unknown criterion type 'keyword' (one of "
    )


def test_duplicate_criterion_id(tmp_path):
    error = rejected(tmp_path, GOOD.replace("- id: dead_air", "- id: greeting"))
    assert error.line == 17
    assert error.reason == "duplicate criterion id 'greeting' (first on line 9)"


def test_missing_field(tmp_path):
    error = rejected(tmp_path, GOOD.replace("        description: no long silences\n", ""))
    assert error.line == 17
    assert (
        error.reason == "criterion 'dead_air' (stages[0].criteria[1]): missing field 'description'"
    )


def test_misspelt_field(tmp_path):
    error = rejected(tmp_path, GOOD.replace("weight: 60", "wieght: 60"))
    assert error.problems == [
        (9, "criterion 'greeting' (stages[0].criteria[0]): missing field 'weight'"),
        (11, "criterion 'greeting' (stages[0].criteria[0]): unknown field 'wieght'"),
    ]


def test_wrong_value_type(tmp_path):
    error = rejected(tmp_path, GOOD.replace("max_count: 0", "max_count: none"))
    assert error.line == 23
    assert "max_count" in error.reason and "valid integer" in error.reason


def test_unknown_event_kind(tmp_path):
    error = rejected(tmp_path, GOOD.replace("event: dead_air", "event: silence"))
    assert error.line == 21
    assert "unknown event kind 'silence'" in error.reason


def test_unknown_variable(tmp_path):
    error = rejected(tmp_path, GOOD.replace("- my name is", "- my name is {agent}"))
    assert error.line == 16
    assert error.reason == (
        "criterion 'greeting': unknown variable {agent} in 'my name is {agent}'; "
        "define it under 'variables'"
    )


def test_duplicate_yaml_key(tmp_path):
    error = rejected(tmp_path, GOOD.replace("weight: 40\n", "weight: 40\n        weight: 40\n"))
    assert (error.line, error.reason) == (20, "duplicate key 'weight'")


def test_no_cue_only_for_cue_criteria(tmp_path):
    error = rejected(tmp_path, GOOD.replace("    within_first_s: 15", "    na_when: no_cue"))
    assert error.line == 9
    assert error.reason.endswith(
        "na_when: no_cue only applies to phrase_after_cue and order criteria"
    )


def test_every_problem_is_reported(tmp_path):
    text = GOOD.replace("weight: 60", "weight: -5").replace("event: dead_air", "event: silence")
    error = rejected(tmp_path, text)
    assert [line for line, _ in error.problems] == [11, 21]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "the rubric is empty"),
        ("- just\n- a list\n", 1, "rubric: Input should be a valid dictionary"),
        ("id: x\n", 1, "rubric: missing field 'version'"),
        (
            "id: x\nversion: 1\npass_mark: 80\nstages: []\n",
            4,
            "stages: List should have at least 1",
        ),
    ],
)
def test_empty_or_shapeless_rubric(tmp_path, text, line, reason):
    path = write(tmp_path, text)
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert caught.value.line == line
    assert caught.value.reason.startswith(reason)


def test_missing_file(tmp_path):
    with pytest.raises(RubricError) as caught:
        load_rubric(tmp_path / "nope.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'nope.yaml'}: cannot read rubric")


def test_parse_rubric_names_its_source():
    with pytest.raises(RubricError) as caught:
        parse_rubric(GOOD.replace("weight: 40", "weight: 41"), source="inline")
    assert str(caught.value) == "inline:6: criterion weights sum to 101, not 100"
