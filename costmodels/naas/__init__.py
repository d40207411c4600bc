"""Network-plus-accelerator co-design (NAAS / CODEBench style) on the loop-nest cost model.

:mod:`.accelerators` defines the NAAS-style accelerator template and the named baselines,
:mod:`.mapper` the vectorized inner mapping search every design goes through, and
:mod:`.network_cost` prices NAS-Bench-201 networks (one or all 15,625) on an accelerator.
"""
