"""Risk-limiting audit mathematics: reproducible samplers, risk measures, assertions and sample sizes.

Pure functions on NumPy arrays, one method per function (docs/audit-math.md). Nothing here reads files or talks to a
database; the audit workflow calls these functions and never the other way round.
"""
