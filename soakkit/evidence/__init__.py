"""Out-of-sample evidence: named seed sets, paired studies, bootstrap intervals, causality.

* :mod:`soakkit.evidence.stats` – bootstrap intervals of a mean;
* :mod:`soakkit.evidence.study` – paired studies of mini-soaks on disjoint calibration and
  evaluation seeds (the tuning evidence in ``docs/TUNING.md``);
* :mod:`soakkit.evidence.causality` – what each tunable parameter does to each KPI on
  paired seeds (the causality table in ``docs/SIMULATOR.md``).
"""
