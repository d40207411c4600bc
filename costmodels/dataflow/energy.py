"""MAESTRO's activity-count energy, in units of one MAC's energy and in pJ.

``energy_mac_units = MACs + 1.68 * (all L1 reads + writes) + 18.61 * (all L2 reads + writes)``
(MAESTRO's ``screen_total_energy_macunits``); one MAC is 0.23 pJ (``0.00023`` nJ).
"""

from __future__ import annotations

L1_ENERGY_MULTIPLIER = 1.68
L2_ENERGY_MULTIPLIER = 18.61
MAC_ENERGY_PJ = 0.23


def energy_mac_units(xp, macs, l1_accesses, l2_accesses):
    """Energy in MAC units (float64). Arguments are int64 arrays of totals."""
    return (xp.asfloat(macs) + L1_ENERGY_MULTIPLIER * xp.asfloat(l1_accesses)
            + L2_ENERGY_MULTIPLIER * xp.asfloat(l2_accesses))


def energy_pj(energy_units):
    """Energy in pJ from energy in MAC units."""
    return energy_units * MAC_ENERGY_PJ
