"""The world-model bench (issue #36): world models trained offline on a fixed dataset, measured on held-out
sequences, and scored by a policy learned only in their imagination (docs/wmbench.md).

Modules: `datasets` (collect, store, load), `batches` (seeded training batches, held-out windows), `methods`
(variants, sizes, settings, the config), `measures` (held-out losses, open-loop error), `policy` (the
imagination policy and its evaluation), `run` (one run directory), `progress` (the runs in turn), `summary`
(the runs read back, the table), `plot` (the figure), `cli` (`python -m hieros.wmbench`).
"""
