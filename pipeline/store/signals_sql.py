"""SQL for what is derived from each call when it is written or rescored: the customer's signals,
its call reasons and its one-row summary for the reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline.store.connection import utc_now

if TYPE_CHECKING:
    from pipeline.categories import CallCategories, CategorySet
    from pipeline.features.customer import CustomerSignals
    from pipeline.queue import QueueDecision
    from pipeline.scoring import CallScore
    from pipeline.types import Event, Features

SIGNAL_TABLES = ("call_customer", "customer_turn_sentiment", "call_categories", "call_summary")


def register_categories(
    con: duckdb.DuckDBPyConnection, categories: CategorySet, path: str | Path
) -> None:
    """Keep the source of every categories version used; a changed file under an old version is refused."""
    text = Path(path).read_text(encoding="utf-8")
    row = con.execute(
        "SELECT source_text FROM category_sets WHERE set_id = ? AND set_version = ?",
        [categories.id, categories.version],
    ).fetchall()
    if not row:
        con.execute(
            "INSERT INTO category_sets VALUES (?, ?, ?, ?, ?)",
            [
                categories.id,
                categories.version,
                str(path),
                text,
                utc_now(),
            ],
        )
    elif row[0][0] != text:
        raise ValueError(
            f"{path}: categories {categories.id!r} version {categories.version} differ from the version "
            f"{categories.version} already used in this database; give the changed file a new version number"
        )


def signal_columns(
    call_id: str, customer: CustomerSignals | None, categories: CallCategories | None
) -> dict[str, dict[str, list]]:
    """The call's customer rows and its reasons, as columns per table (stored by ``store.Store``)."""
    tables: dict[str, dict[str, list]] = {}
    if customer is not None:
        tables["call_customer"] = {
            "call_id": [call_id],
            "customer_turns": [len(customer.turns)],
            "frustrated_turns": [customer.frustrated_turns],
            "escalations": [customer.escalations],
            "mean_sentiment": [round(customer.mean_compound, 4)],
            "start_sentiment": [round(customer.start_compound, 4)],
            "end_sentiment": [round(customer.end_compound, 4)],
            "unagreed_wait_s": [round(customer.unagreed_wait_s, 3)],
            "escalated": [customer.escalated],
            "unhappy": [customer.unhappy],
            "escalation": [customer.escalation or None],
            "unhappy_reasons": ["; ".join(customer.unhappy_reasons) or None],
        }
        turns = customer.turns
        tables["customer_turn_sentiment"] = {
            "call_id": [call_id] * len(turns),
            "turn_idx": list(range(len(turns))),
            "start_s": [t.start_s for t in turns],
            "end_s": [t.end_s for t in turns],
            "compound": [round(t.compound, 4) for t in turns],
            "label": [t.label for t in turns],
            "cue": [t.cue or None for t in turns],
        }
    if categories is not None:
        matches = categories.matches
        tables["call_categories"] = {
            "call_id": [call_id] * len(matches),
            "set_id": [categories.set_id] * len(matches),
            "set_version": [categories.set_version] * len(matches),
            "category_id": [m.category_id for m in matches],
            "name": [m.name for m in matches],
            "evidence_text": [m.evidence_text for m in matches],
            "start_s": [m.start_s for m in matches],
            "end_s": [m.end_s for m in matches],
        }
    return tables


def summary_columns(
    call_id: str,
    features: Features | None,
    events: Sequence[Event],
    score: CallScore | None,
    queue: QueueDecision | None,
    customer: CustomerSignals | None,
) -> dict[str, list]:
    """The call's one-row report summary (no row without features), as columns."""
    if features is None:
        return {"call_id": []}
    dead_air_s = sum(e.end_s - e.start_s for e in events if e.kind == "dead_air")
    return {
        "call_id": [call_id],
        "hold_total_s": [features.hold_total_s],
        "dead_air_s": [dead_air_s],
        "auto_score": [round(score.score, 2) if score else None],
        "rubric_id": [score.rubric_id if score else None],
        "rubric_version": [score.rubric_version if score else None],
        "queued": [queue is not None],
        "unhappy": [customer.unhappy if customer is not None else None],
    }
