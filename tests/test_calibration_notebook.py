"""notebooks/calibration.ipynb runs (nbclient) against a synthetic database and saves its figures."""

from __future__ import annotations

import pytest

import nbformat
from nbclient import NotebookClient

from tests import synthetic_calibration as synthetic
from pipeline.store.store import Store
from tests.conftest import PROJECT

NOTEBOOK = PROJECT / "notebooks" / "calibration.ipynb"
FIGURES = (
    "kappa_per_criterion",
    "bland_altman",
    "confusion_matrices",
    "reviewer_heatmap",
    "queue_catch_rate",
)


@pytest.mark.slow
def test_the_calibration_notebook_runs_and_saves_its_figures(tmp_path, monkeypatch):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        synthetic.write_synthetic(
            store.calibration, synthetic.simulate(synthetic.SyntheticSpec(n_calls=1500), seed=5)
        )
    figures = tmp_path / "figures"
    monkeypatch.setenv("CALLQA_CALIBRATION_DB", str(db))
    monkeypatch.setenv("CALLQA_FIGURES_DIR", str(figures))
    monkeypatch.setenv("CALLQA_RESAMPLES", "300")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    for name in FIGURES:
        png = figures / f"{name}.png"
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    outputs = "".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "synthetic v1: 375 of 1500 scored calls graded by a human" in outputs
