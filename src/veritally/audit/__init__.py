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
from .assertions import (  # noqa: F401  (assertions and assorters: docs/audit-math.md)
    ALL_OTHERS,
    Assertion,
    ContestCards,
    assorter_margin,
    make_assertions,
    margins_from_tally,
    overstatement,
    overstatement_assorter,
    phantoms_needed,
    with_phantoms,
)
from .contest import ContestRisk, ReportedContest  # noqa: F401
from .risk import *  # noqa: F401,F403  (one function per risk measure)
from .sizes import (  # noqa: F401  (sample sizes)
    bravo_asn,
    bravo_quantile_sample_size,
    bravo_sample_size_options,
    comparison_values,
    macro_sample_size,
    polling_values,
    simulated_sample_size,
    suite_sample_size,
    supersimple_nmin,
    supersimple_sample_size,
)
