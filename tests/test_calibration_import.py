"""calibration/grades_import.py and `callqa grades import`: good lines kept, bad lines reported
with their line numbers, re-importing adds nothing twice."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests import synthetic_calibration as synthetic
from pipeline.calibration.grades_import import GradesFileError, import_grades
from pipeline.cli import app
from pipeline.store.store import Store

SPEC = synthetic.SyntheticSpec(n_calls=6, graded_share=0.0, rubric_id="demo")


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "calls.duckdb"
    data = synthetic.simulate(SPEC, seed=0)
    with Store(path) as store:
        synthetic.write_synthetic(store.calibration, data)
    calls = data.frames["calls"]
    return path, list(calls.call_id), [p.rsplit("/", 1)[1] for p in calls.source_path]


def write_csv(path, ids, files):
    lines = [
        "Call ID,File,Reviewer,Criterion,Result,Score,Graded At,Comment",
        f"{ids[0]},,ana,greeting,pass,85,2026-02-01T10:00:00,",  # 2
        f"{ids[0]},,ana,closing,fail,85,2026-02-01T10:00:00,forgot to thank",  # 3
        f",{files[1]},ben,greeting,PASS,,2026-02-02,",  # 4: by file name
        f",{files[1]},ben,verification,15,,2026-02-02,",  # 5: full points = pass
        f",{files[1]},ben,resolution,7.5,,2026-02-02,",  # 6: partial points = fail
        "nosuchcall,,ana,greeting,pass,,,",  # 7: bad call
        f"{ids[2]},,,greeting,pass,,,",  # 8: no reviewer
        f"{ids[2]},,ana,greetings,pass,,,",  # 9: unknown criterion
        f"{ids[2]},,ana,closing,maybe,,,",  # 10: bad result
        f"{ids[2]},,ana,closing,pass,120,,",  # 11: bad score
        f"{ids[0]},,ana,greeting,fail,85,,",  # 12: duplicate of line 2
        f"{ids[3]},,ana,empathy,pass,,yesterday,",  # 13: bad date
        ",unknown.wav,ana,empathy,pass,,,",  # 14: unknown file
        f"{ids[3]},,dev,resolution,20,,,",  # 15: points over the weight
        "",
        f"{ids[3]},,dev,empathy,na,70,,",  # 17: good, after an empty line
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_lines_are_reported_with_line_numbers_and_good_lines_kept(db, tmp_path):
    path, ids, files = db
    grades = write_csv(tmp_path / "export.csv", ids, files)
    with Store(path) as store:
        result = import_grades(store.calibration, grades)
        reviews = store.con.execute(
            "SELECT call_id, reviewer, human_score, source, submitted_at FROM reviews ORDER BY call_id, reviewer"
        ).fetchall()
        rows = store.con.execute(
            "SELECT r.call_id, r.reviewer, g.criterion_id, g.status, g.points, g.comment FROM human_grades g"
            " JOIN reviews r USING (review_id) ORDER BY 1, 2, 3"
        ).fetchall()
    bad = {b.line: b.reason for b in result.bad}
    assert sorted(bad) == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert "no call with id 'nosuchcall'" in bad[7]
    assert "no reviewer" in bad[8]
    assert "unknown criterion 'greetings'" in bad[9]
    assert "'maybe' is not pass, fail, na or points" in bad[10]
    assert "'120' is not a number from 0 to 100" in bad[11]
    assert "already on line 2" in bad[12]
    assert "'yesterday' is not an ISO date" in bad[13]
    assert "unknown.wav" in bad[14]
    assert "20 points is outside 0-15 for resolution" in bad[15]
    assert (result.lines, result.grades_added, result.reviews_added, result.already_imported) == (
        15,
        6,
        3,
        0,
    )
    assert all(source == "import" for _, _, _, source, _ in reviews)
    by_key = {(call, reviewer): (score, at) for call, reviewer, score, _, at in reviews}
    assert by_key[(ids[0], "ana")][0] == 85
    assert by_key[(ids[1], "ben")][0] is None and by_key[(ids[1], "ben")][1].day == 2
    assert (ids[1], "ben", "resolution", "fail", 7.5, None) in rows
    assert (ids[1], "ben", "verification", "pass", 15.0, None) in rows
    assert (ids[0], "ana", "closing", "fail", None, "forgot to thank") in rows


def test_reimporting_the_same_file_adds_nothing_and_fixed_lines_are_added(db, tmp_path):
    path, ids, files = db
    grades = write_csv(tmp_path / "export.csv", ids, files)
    with Store(path) as store:
        import_grades(store.calibration, grades)
        again = import_grades(store.calibration, grades)
        counts = store.con.execute(
            "SELECT (SELECT count(*) FROM reviews), (SELECT count(*) FROM human_grades)"
        ).fetchone()
        assert (again.grades_added, again.reviews_added, again.already_imported) == (0, 0, 6)
        assert counts == (3, 6)
        # fix line 9 (the unknown criterion) and import again: just that grade is added
        grades.write_text(grades.read_text().replace("ana,greetings,", "ana,greeting,"))
        fixed = import_grades(store.calibration, grades)
        assert (fixed.grades_added, fixed.reviews_added) == (1, 1)
        audit = store.con.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'grades_import'"
        ).fetchone()[0]
        assert audit == 3


def test_a_file_without_the_required_columns_is_refused(db, tmp_path):
    path, _, _ = db
    grades = tmp_path / "wrong.csv"
    grades.write_text("call,who,what\nx,y,z\n")
    with Store(path) as store, pytest.raises(GradesFileError, match="line 1: missing column"):
        import_grades(store.calibration, grades)


def test_cli_reports_each_bad_line_and_exits_1(db, tmp_path):
    path, ids, files = db
    grades = write_csv(tmp_path / "export.csv", ids, files)
    result = CliRunner().invoke(app, ["grades", "import", str(grades), "--db", str(path)])
    assert result.exit_code == 1, result.output
    for line in (7, 8, 9, 10, 11, 12, 13, 14, 15):
        assert f"export.csv:{line}:" in result.output
    assert "6 grades in 3 new reviews added" in result.output
