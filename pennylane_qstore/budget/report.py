"""The cost report: jobs, circuits, shots, USD and seconds per phase and target."""

from __future__ import annotations

from typing import Any

COLUMNS = (
    "phase",
    "target",
    "jobs",
    "circuits",
    "shots",
    "estimated_usd",
    "billed_usd",
    "queue_s",
    "exec_s",
)
"""Keys of every report row, in table order."""

_NUMERIC = COLUMNS[2:]
_HEADERS = {
    "estimated_usd": "estimated $",
    "billed_usd": "billed $",
    "queue_s": "queue s",
    "exec_s": "exec s",
}


class CostReport:
    """What a ledger (or one device's part of it) recorded, per phase and target.

    Attributes:
        rows: One dict per ``(phase, target)`` with the keys of :data:`COLUMNS` (``shots`` is
            ``None`` for analytic work).
        totals: The numeric columns summed over the rows.
        reserved_usd: USD held by open reservations (not yet billed).
        open_reservations: Number of open reservations.
    """

    def __init__(
        self, rows: list[dict[str, Any]], reserved_usd: float = 0.0, open_reservations: int = 0
    ) -> None:
        self.rows = rows
        self.reserved_usd = reserved_usd
        self.open_reservations = open_reservations
        shots = [r["shots"] for r in rows if r["shots"] is not None]
        self.totals: dict[str, Any] = {
            key: sum(r[key] for r in rows) for key in _NUMERIC if key != "shots"
        }
        self.totals["shots"] = sum(shots) if shots else None

    def to_dict(self) -> dict[str, Any]:
        """``{"rows": [...], "totals": {...}, "reserved_usd": x, "open_reservations": n}``."""
        return {
            "rows": [dict(r) for r in self.rows],
            "totals": dict(self.totals),
            "reserved_usd": self.reserved_usd,
            "open_reservations": self.open_reservations,
        }

    def to_dataframe(self) -> Any:
        """The rows as a :class:`pandas.DataFrame` (columns :data:`COLUMNS`).

        Raises:
            ImportError: If pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError(
                "CostReport.to_dataframe needs pandas: pip install pennylane-qstore[cost]"
            ) from err
        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def __str__(self) -> str:
        total = {"phase": "total", "target": "", **self.totals}
        lines = [[_HEADERS.get(c, c) for c in COLUMNS]]
        lines += [[_cell(row, c) for c in COLUMNS] for row in [*self.rows, total]]
        widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
        text = [
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            for line in lines
        ]
        text.insert(1, "-" * len(text[0]))
        text.insert(len(text) - 1, "-" * len(text[0]))
        if self.open_reservations:
            text.append(
                f"open reservations: {self.open_reservations} (${self.reserved_usd:.2f} reserved)"
            )
        return "\n".join(text)

    def __repr__(self) -> str:
        return (
            f"CostReport({len(self.rows)} rows, billed ${self.totals['billed_usd']:.2f}, "
            f"reserved ${self.reserved_usd:.2f})"
        )


def _cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if value is None:
        return "-"
    if column.endswith("_usd"):
        return f"{value:.2f}"
    if column.endswith("_s"):
        return f"{value:.2f}"
    return str(value)
