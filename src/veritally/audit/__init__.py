"""Risk-limiting audit mathematics: reproducible samplers, risk measures, assertions and sample sizes.

Pure functions on NumPy arrays, one method per function (docs/audit-math.md). Nothing here reads files or talks to a
database; the audit workflow calls these functions and never the other way round.
"""

from .sampling import (  # noqa: F401  (reproducible samplers: docs/sampling.md)
    CardColumns,
    CardDraw,
    ContestSample,
    Draw,
    PpebDraw,
    arlo_draw_sample,
    ballot_id_bytes,
    consistent_sample,
    consistent_sample_contests,
    counter_mode_sample,
    ppeb_sample,
    veritally_sample,
    veritally_ticket_order,
)
