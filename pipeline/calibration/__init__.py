"""Calibration: how far the auto-scorer agrees with human graders, and what to do about it.

``stats`` holds the agreement statistics (pure), ``report`` turns stored grades into a
``CalibrationReport`` and trust decisions, ``tuning`` sweeps thresholds into a new rubric version,
``grades_import`` reads human grades made in other tools, ``render`` prints a report with rich.
Synthetic graders with known accuracy, for tests and benchmarks, are in tests/synthetic_calibration.py.
"""
