"""notebooks/reports.ipynb runs (nbclient) against the synthetic month with its coaching sessions and
writes the same figures the report commands give, checked here against the plan."""

from __future__ import annotations

import json
from datetime import date

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT
from tests.test_reports import expected_production, month, plan  # noqa: F401  (fixtures)

NOTEBOOK = PROJECT / "notebooks" / "reports.ipynb"


@pytest.mark.slow
def test_the_reports_notebook_gives_the_report_figures(month, plan, tmp_path, monkeypatch):  # noqa: F811
    out = tmp_path / "out"
    monkeypatch.setenv("CALLQA_REPORTS_DB", str(month.db))
    monkeypatch.setenv("CALLQA_REPORTS_AGENT", "a2")
    monkeypatch.setenv("CALLQA_REPORTS_AS_OF", "2026-03-31")
    monkeypatch.setenv("CALLQA_REPORTS_OUT", str(out))
    monkeypatch.setenv("PYTHONPATH", str(PROJECT))  # the kernel imports this checkout's pipeline
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    expected = expected_production(plan, "week", "team")
    table = pd.read_csv(out / "production_week_team.csv")
    assert len(table) == len(expected)
    for row in table.itertuples():
        want = expected[(date.fromisoformat(row.period), row.group)]
        assert row.calls == want["calls"]
        assert row.aht_s == pytest.approx(want["aht_s"])
        assert row.queued_share == pytest.approx(want["queued_share"])
        assert row.unhappy_share == pytest.approx(want["unhappy_share"])
    reasons = pd.read_csv(out / "production_week_reason.csv")
    assert reasons.calls.sum() == sum(
        v["calls"] for v in expected_production(plan, "week", "reason").values()
    )
    card = json.loads((out / "scorecard.json").read_text())
    mine = plan[plan.agent_id == "a2"]
    assert (card["agent"], card["team"], card["figures"]["calls"]) == ("a2", "billing", len(mine))
    assert card["figures"]["agent_interruptions"] == pytest.approx(mine.interruptions.mean())
    printed = "".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert f"{len(plan)} calls" in printed
    assert (
        "Interruptions per call: 0.0 (" in printed
        and "-> 2.0 (" in printed
        and ": worse" in printed
    )
