"""The HADAS tables: the energy reduction per backbone, and the model against HADAS's measurements.

The energy-reduction table: per backbone and exit-policy model, the lowest energy per
inference at equal or better accuracy than the static backbone at the highest levels (MAXN).

For each backbone the candidates are exit configurations (none, every exit, each single exit, every
prefix and suffix of the exit list, and the exit sets the run's searches put on their Pareto
fronts) x every threshold of the problem (threshold model), each at every allowed frequency
triple (exhaustive: the exit shares and accuracy do not depend on the frequencies). Columns:
static energy and accuracy; best with DVFS only (no exits); best with exits at the highest
levels; best with exits and DVFS; and each one's reduction in %.

The measured comparison (:func:`measured_comparison`): the model's a0/a6 energies next to HADAS's
measured ones (CIFAR-100, older exit head; module scope, a0 calibrates the non-GPU rails, a6 checks).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from codesign_gym.costmodels.xavier import POLICY_LABELS
from codesign_gym.envs.early_exit_dvfs import EarlyExitDVFSProblem


def candidate_masks(num_exits: int, extra: Iterable[np.ndarray] = ()) -> np.ndarray:
    """(C, E) distinct exit masks: none, every exit, each single exit, every prefix and suffix, plus ``extra``."""
    E = num_exits
    rows = [np.zeros(E, dtype=bool), np.ones(E, dtype=bool)]
    for j in range(E):
        one = np.zeros(E, dtype=bool)
        one[j] = True
        rows.append(one)
        rows.append(np.arange(E) <= j)
        rows.append(np.arange(E) >= j)
    rows.extend(np.asarray(m, dtype=bool)[:E] for m in extra)
    return np.unique(np.stack(rows), axis=0)


def reduction_rows(problem: EarlyExitDVFSProblem, extra_masks: dict[int, list[np.ndarray]] | None = None,
                   policies: tuple[str, ...] = ("oracle", "threshold")) -> list[dict[str, object]]:
    """One row per (backbone, exit model), then an ``overall`` row per model (the largest and the
    mean reduction over backbones). Energies in mJ, accuracies and reductions in %."""
    space = problem.xavier
    g, c, e = np.meshgrid(problem.levels["gpu"], problem.levels["cpu"], problem.levels["emc"], indexing="ij")
    g, c, e = g.ravel(), c.ravel(), e.ravel()
    top = int(np.flatnonzero((g == g.max()) & (c == c.max()) & (e == e.max()))[0])
    rows = []
    for policy in policies:
        per = []
        for k, name in enumerate(space.backbones):
            E = int(space.num_exits[k])
            none = np.zeros((1, E), dtype=bool)
            base = space.policy_outcome(k, none, "oracle")
            _, en0 = space.expected_over_frequencies(k, none, base.share, g, e, c, problem.tpc_fraction)
            static_e, static_acc = float(en0[0, top]), float(base.accuracy[0])
            masks = candidate_masks(E, (extra_masks or {}).get(k, []))
            thresholds = problem.thresholds if policy == "threshold" else np.ones(1)
            mm = np.repeat(masks, thresholds.size, axis=0)
            tt = np.tile(thresholds, masks.shape[0])
            out = space.policy_outcome(k, mm, policy, tt)
            ok = out.accuracy >= static_acc - 1e-9
            best_exit, best_both = (np.inf, None), (np.inf, None)
            for idx in np.array_split(np.flatnonzero(ok), max(1, int(np.ceil(ok.sum() / 64)))):
                if idx.size == 0:
                    continue
                _, en = space.expected_over_frequencies(k, mm[idx], out.share[idx], g, e, c, problem.tpc_fraction)
                i = int(np.argmin(en[:, top]))
                if en[i, top] < best_exit[0]:
                    best_exit = (float(en[i, top]), (idx[i], top))
                j, f = np.unravel_index(int(np.argmin(en)), en.shape)
                if en[j, f] < best_both[0]:
                    best_both = (float(en[j, f]), (idx[j], f))
            dvfs_f = int(np.argmin(en0[0]))
            red = lambda v: 100.0 * (1.0 - v / static_e)  # noqa: E731
            row = {
                "backbone": name, "exit_model": POLICY_LABELS[policy], "static_top1_%": round(static_acc, 2),
                "static_mJ": round(static_e, 3),
                "dvfs_only_mJ": round(float(en0[0, dvfs_f]), 3), "dvfs_only_red_%": round(red(float(en0[0, dvfs_f])), 1),
                "exits_mJ": round(best_exit[0], 3), "exits_red_%": round(red(best_exit[0]), 1),
                "exits_dvfs_mJ": round(best_both[0], 3), "exits_dvfs_red_%": round(red(best_both[0]), 1),
            }
            j, f = best_both[1]
            row.update({
                "exits_dvfs_top1_%": round(float(out.accuracy[j]), 2), "exits": (np.flatnonzero(mm[j]) + 1).tolist(),
                "threshold": float(tt[j]) if policy == "threshold" and mm[j].any() else "-",
                "gpu/cpu/emc_MHz": f"{g[f]:g}/{c[f]:g}/{e[f]:g}",
            })
            per.append(row)
        rows.extend(per)
        rows.append({"backbone": "overall (max / mean)", "exit_model": POLICY_LABELS[policy],
                     **{k: f"{max(r[k] for r in per):.1f} / {np.mean([r[k] for r in per]):.1f}"
                        for k in ("dvfs_only_red_%", "exits_red_%", "exits_dvfs_red_%")}})
    return rows


def measured_comparison() -> list[dict[str, object]]:
    """The model vs HADAS's measured a0/a6 energies (mJ per inference, CIFAR-100, older exit head):
    static at the highest levels, with every exit (oracle, highest levels), and with exits + the
    best DVFS, in the ``module`` scope (every rail; HADAS's a0 static energy calibrates the non-GPU
    rails, a6 checks them), beside the static energy of the GPU rail alone."""
    from codesign_gym.costmodels.xavier.evaluate import static_backbone
    from codesign_gym.costmodels.xavier.fit import CALIBRATION_BACKBONE, motivation_rows

    problem = EarlyExitDVFSProblem("cifar-100", "old_res", backbones=("a0", "a6"), policy="oracle")
    measured = motivation_rows()
    space = problem.xavier
    out = []
    table = {r["backbone"]: r for r in reduction_rows(problem, policies=("oracle",))}
    for k, name in enumerate(space.backbones):
        every = np.zeros((1, space.max_exits), dtype=bool)
        every[0, : space.num_exits[k]] = True
        r = space.evaluate([k], every, "oracle")
        m = measured[name]
        model = {"base": float(r.static_energy_mj[0]), "eex": float(r.energy_mj[0]), "eex_dvfs": float(table[name]["exits_dvfs_mJ"])}
        gpu = float(static_backbone(name, "cifar-100", scope="gpu_rail")["energy_mj"])
        out.append({"backbone": name + (" (calibrates)" if name == CALIBRATION_BACKBONE else " (check)"),
                    **{f"hadas_{k}_mJ": round(m[f"{k}_energy_mJ"], 1) for k in ("base", "eex", "eex_dvfs")},
                    **{f"model_{k}_mJ": round(v, 1) for k, v in model.items()},
                    "base_error_%": round(100 * (model["base"] / m["base_energy_mJ"] - 1), 1),
                    "model_base_gpu_rail_mJ": round(gpu, 1),
                    "hadas_eex_saving_%": round(100 * (1 - m["eex_energy_mJ"] / m["base_energy_mJ"]), 1),
                    "model_eex_saving_%": round(100 * (1 - model["eex"] / model["base"]), 1),
                    "hadas_eex_dvfs_saving_%": round(100 * (1 - m["eex_dvfs_energy_mJ"] / m["base_energy_mJ"]), 1),
                    "model_eex_dvfs_saving_%": round(100 * (1 - model["eex_dvfs"] / model["base"]), 1)})
    return out
