"""Accelerator description and MAESTRO's area / power closed forms.

:class:`Hardware` holds broadcastable arrays (or scalars):

* ``num_pes`` -- processing elements (PEs), >= 1;
* ``ktile`` -- ConfuciuX's ``KTileSz`` (its "buffer" action, 1..12); used by ``cfx_*`` templates;
* ``noc_bw`` -- NoC bandwidth in elements / cycle (MAESTRO's ``noc_bw_cstr``);
* ``offchip_bw`` -- off-chip bandwidth in elements / cycle;
* ``noc_latency`` -- NoC latency in cycles (hops x per-hop latency).

Area (MAESTRO units, um^2-like) and power (mW-like) follow MAESTRO's DSE cost model with
``P`` PEs, the *required* per-PE L1 and shared L2 sizes in bytes and ``BW = noc_bw``:
``arb = 1.2886 P^2 + 5.5814 P - 23.711``, ``bus = 14.662 P + 28.895``,
``area = 283 P + 0.104 (P L1 + L2) + 101.7938 bus BW + 395.473 max(1, arb)``,
``power = 1.2223 P + 0.00345 (P L1 + L2) + 0.0008 bus BW + 0.34 max(1, arb / 1000)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: MAESTRO's example NoC bandwidth (elements/cycle); ConfuciuX uses :data:`CONFUCIUX_NOC_BW`.
DEFAULT_NOC_BW = 64
#: The NoC bandwidth ConfuciuX passes to MAESTRO (effectively unlimited).
CONFUCIUX_NOC_BW = 81_920_000
#: Off-chip bandwidth of the reference runs (elements/cycle).
DEFAULT_OFFCHIP_BW = 70_000


@dataclasses.dataclass(frozen=True)
class Hardware:
    """An accelerator design (fields are ints or broadcastable int arrays / tensors; see module doc)."""

    num_pes: Any
    ktile: Any = 1
    noc_bw: Any = DEFAULT_NOC_BW
    offchip_bw: Any = DEFAULT_OFFCHIP_BW
    noc_latency: Any = 1

    FIELDS = ("num_pes", "ktile", "noc_bw", "offchip_bw", "noc_latency")


def area(xp, num_pes, l1_bytes, l2_bytes, noc_bw):
    """MAESTRO's area (float64, same shape as the broadcast inputs)."""
    P = xp.asfloat(num_pes)
    arb = 1.2886 * P * P + 5.5814 * P - 23.711
    bus = 14.662 * P + 28.895
    return (283.0 * P + 0.104 * (P * xp.asfloat(l1_bytes) + xp.asfloat(l2_bytes))
            + 101.7938 * bus * xp.asfloat(noc_bw) + 395.473 * xp.maximum(arb, 1.0))


def power(xp, num_pes, l1_bytes, l2_bytes, noc_bw):
    """MAESTRO's power (float64, same shape as the broadcast inputs)."""
    P = xp.asfloat(num_pes)
    arb = 1.2886 * P * P + 5.5814 * P - 23.711
    bus = 14.662 * P + 28.895
    return (1.2223 * P + 0.00345 * (P * xp.asfloat(l1_bytes) + xp.asfloat(l2_bytes))
            + 0.0008 * bus * xp.asfloat(noc_bw) + 0.34 * xp.maximum(arb / 1000.0, 1.0))
