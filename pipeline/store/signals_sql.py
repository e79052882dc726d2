"""SQL for what is derived from each call when it is written or rescored: the customer's signals,
its call reasons and its one-row summary for the reports."""

from __future__ import annotations

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


def write_signals(
    con: duckdb.DuckDBPyConnection,
    call_id: str,
    customer: CustomerSignals | None,
    categories: CallCategories | None,
) -> None:
    """Replace the call's customer rows and its reasons (inside the caller's transaction)."""
    if customer is not None:
        con.execute("DELETE FROM call_customer WHERE call_id = ?", [call_id])
        con.execute("DELETE FROM customer_turn_sentiment WHERE call_id = ?", [call_id])
        con.execute(
            "INSERT INTO call_customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                call_id, len(customer.turns), customer.frustrated_turns, customer.escalations,
                round(customer.mean_compound, 4), round(customer.start_compound, 4), round(customer.end_compound, 4),
                round(customer.unagreed_wait_s, 3), customer.escalated, customer.unhappy, customer.escalation or None,
                "; ".join(customer.unhappy_reasons) or None,
            ],
        )  # fmt: skip
        if customer.turns:
            con.executemany(
                "INSERT INTO customer_turn_sentiment VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        call_id,
                        index,
                        t.start_s,
                        t.end_s,
                        round(t.compound, 4),
                        t.label,
                        t.cue or None,
                    ]
                    for index, t in enumerate(customer.turns)
                ],
            )
    if categories is not None:
        con.execute(
            "DELETE FROM call_categories WHERE call_id = ? AND set_id = ?",
            [call_id, categories.set_id],
        )
        if categories.matches:
            con.executemany(
                "INSERT INTO call_categories VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [call_id, categories.set_id, categories.set_version, m.category_id, m.name, m.evidence_text,
                     m.start_s, m.end_s]
                    for m in categories.matches
                ],
            )  # fmt: skip


def write_summary(
    con: duckdb.DuckDBPyConnection,
    call_id: str,
    features: Features | None,
    events: list[Event],
    score: CallScore | None,
    queue: QueueDecision | None,
    customer: CustomerSignals | None,
) -> None:
    """Replace the call's report summary (inside the caller's transaction)."""
    con.execute("DELETE FROM call_summary WHERE call_id = ?", [call_id])
    if features is None:
        return
    dead_air_s = sum(e.end_s - e.start_s for e in events if e.kind == "dead_air")
    con.execute(
        "INSERT INTO call_summary VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            call_id, features.hold_total_s, dead_air_s, round(score.score, 2) if score else None,
            score.rubric_id if score else None, score.rubric_version if score else None, queue is not None,
            customer.unhappy if customer is not None else None,
        ],
    )  # fmt: skip
