"""The quality gate: a candidate recipe's seeds against the base's recorded seeds.

:mod:`~gantrack.gate.seed_sets` (the unit compared), :mod:`~gantrack.gate.rules` (the
decision rule, pure), :mod:`~gantrack.gate.power` (its false alarm and power, measured by
resampling), :mod:`~gantrack.gate.report`, :mod:`~gantrack.gate.decision` (the decision as
evidence) and :mod:`~gantrack.gate.promotion` (``champion`` moved on it); the IO edge is
:mod:`~gantrack.gate.sources`.
"""
