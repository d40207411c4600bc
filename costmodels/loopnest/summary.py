"""A Timeloop-like summary of one evaluated mapping: a JSON-ready dict and a text report."""

from __future__ import annotations

from .architecture import Architecture
from .model import LoopNestResult
from .problem import Problem


def summary_dict(problem: Problem, arch: Architecture, result: LoopNestResult, b: int = 0) -> dict:
    """``{cycles, utilization, macs, energy_pj, energy_pj_by_component, accesses, valid, ...}``.

    Dummy levels are left out; ``accesses[level][data space]`` holds scalar reads, fills and
    updates summed over utilized instances, for the data spaces the level keeps.
    """
    by_component = {}
    accesses = {}
    for l, lvl in enumerate(arch.levels):
        if lvl.dummy:
            continue
        by_component[lvl.name] = float(result.energy_pj_by_level[b, l])
        kept = {}
        for s, ds in enumerate(problem.data_spaces):
            if result.utilized_capacity[b, l, s] or result.reads[b, l, s] or result.updates[b, l, s]:
                kept[ds.name] = {"reads": int(result.reads[b, l, s]), "fills": int(result.fills[b, l, s]),
                                 "updates": int(result.updates[b, l, s])}
        accesses[lvl.name] = kept
    by_component[arch.compute.name] = float(result.compute_energy_pj[b])
    out = {
        "cycles": int(result.cycles[b]),
        "utilization": float(result.utilization[b]),
        "macs": int(result.macs),
        "energy_pj": float(result.energy_pj[b]),
        "energy_pj_by_component": by_component,
        "accesses": accesses,
        "valid": bool(result.valid[b]),
    }
    if not result.valid[b]:
        out["invalid_reason"] = result.reason(b)
    return out


def summary_text(problem: Problem, arch: Architecture, result: LoopNestResult, b: int = 0) -> str:
    """Cycles, utilization, energy per component, pJ per MAC and accesses per level, as text."""
    s = summary_dict(problem, arch, result, b)
    lines = [f"problem {problem.name}: " + ", ".join(f"{d}={n}" for d, n in zip(problem.dims, problem.bounds)),
             f"architecture {arch.name}: " + " -> ".join(f"{lvl.name}[x{lvl.instances}]" for lvl in arch.levels)
             + f" -> {arch.compute.name}[x{arch.compute.instances}]"]
    if not s["valid"]:
        lines.append(f"INVALID mapping: {s['invalid_reason']}")
    lines += [
        f"Cycles: {s['cycles']}",
        f"Utilization: {100 * s['utilization']:.2f}%",
        f"MACs: {s['macs']}",
        f"Energy: {s['energy_pj'] * 1e-6:.4f} uJ (dynamic, no leakage)",
        "",
        "pJ/MAC",
    ]
    for name, pj in s["energy_pj_by_component"].items():
        lines.append(f"    {name:<28s} = {pj / s['macs']:.4f}")
    lines.append(f"    {'Total':<28s} = {s['energy_pj'] / s['macs']:.4f}")
    lines += ["", "Accesses (scalar, all utilized instances): reads / fills / updates"]
    for level, spaces in s["accesses"].items():
        for space, counts in spaces.items():
            lines.append(f"    {level:<24s} {space:<8s} {counts['reads']:>12d} {counts['fills']:>12d} {counts['updates']:>12d}")
    return "\n".join(lines)
