"""ConfuciuX's second stage: a genetic algorithm that fine-tunes one good design.

ConfuciuX (Kao et al., MICRO 2020; ``src/ConfX/main.py`` ``genetic_search`` and
``src/ConfX/ga_confx.py``) hands the best design its REINFORCE stage found to a small GA whose
whole first generation is that design. Every generation keeps the best ``parents`` designs of
the last one (truncation selection, no crossover between designs), gives each of them children
in turn, changes each child by a few small mutations (a gene moved by a few levels), and with
some probability swaps the values of two genes of the same kind inside the child (two layers
trade their PE counts, or their buffer levels): ConfuciuX calls this "self crossover". The best
design goes on unchanged. :class:`FineTuningGA` is that GA on our level-indexed designs, behind
the ask/tell interface.

Differences from ConfuciuX's script, each kept deliberately:

- Its mutation adds a random amount to the raw value (PEs in 1..128, buffer in 1..12), so it
  reaches PE counts off ConfuciuX's own action grid; our designs are level indices, so a
  mutation moves a gene by up to ``max_step`` levels (its buffer step is at most 2 levels too).
- Its mutation asks MAESTRO, outside the evaluation count, whether the changed layer still fits
  the area/power budget and undoes a change that does not; a search method here only sees whole
  designs priced by the problem, so a child that breaks the budget is priced and ranks below
  every feasible one (on ``cfx/mobilenet_v2`` and ``cfx/resnet50`` undoing such changes for free
  did not help the final result).
- It prices the unchanged best design again in every generation (one of its 20 evaluations);
  here it keeps its known fitness, and a generation is ``population - 1`` new children.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from codesign_gym.agents.search.base import SearchMethod
from codesign_gym.envs.problem import Evaluation


def name_groups(names: Sequence[str], nvec: np.ndarray) -> list[np.ndarray]:
    """Indices of the genes of the same kind: same name without its trailing index (``pe_3`` and
    ``pe_7``; ``buffer_0`` and ``buffer_12``) and the same number of levels."""
    nvec = np.asarray(nvec)
    keys: dict[tuple[str, int], list[int]] = {}
    for i, name in enumerate(names):
        keys.setdefault((re.sub(r"_?\d+$", "", str(name)), int(nvec[i])), []).append(i)
    return [np.asarray(v, dtype=np.int64) for v in keys.values()]


class FineTuningGA(SearchMethod):
    """ConfuciuX's fine-tuning GA (see the module docstring); its defaults are ConfuciuX's rates.

    Args:
        population: designs per generation, the best one included (ConfuciuX: 20); each
            generation asks for ``population - 1`` new children.
        parents: the best designs of a generation that breed the next, each in turn (ConfuciuX:
            8); fewer when fewer children were feasible (at least 1).
        tries: mutations per child, each of one random gene (ConfuciuX: 3).
        max_step: a mutation moves its gene by a uniformly drawn -max_step..max_step levels,
            clipped to the gene's range.
        swap_rate: probability that a child then swaps the values of two genes of one kind
            (ConfuciuX: 0.2).
        groups: the kinds of genes a swap stays within, as arrays of gene indices; default: the
            genes with the same number of levels. :func:`name_groups` groups by variable name.
        seed_design: (D,) design the first generation is made of (ConfuciuX: the best RL design);
            without it the first generation is ``population`` random designs.
        seed_fitness: the seed design's known fitness; without it the first generation is the
            seed and ``population - 1`` children of it, all priced.
    """

    name = "finetune_ga"
    preferred_batch = 19  # population - 1 new children per generation

    def __init__(self, nvec: np.ndarray, seed: int = 0, population: int = 20, parents: int = 8, tries: int = 3, max_step: int = 2,
                 swap_rate: float = 0.2, groups: Sequence[np.ndarray] | None = None, seed_design: np.ndarray | None = None,
                 seed_fitness: float | None = None):
        super().__init__(nvec, seed)
        if population < 2 or not 1 <= parents <= population:
            raise ValueError(f"population={population}, parents={parents}: need population >= 2 and 1 <= parents <= population")
        if tries < 0 or max_step < 0 or not 0.0 <= swap_rate <= 1.0:
            raise ValueError(f"tries={tries}, max_step={max_step}, swap_rate={swap_rate}: need tries, max_step >= 0 and 0 <= swap_rate <= 1")
        self.population, self.parents, self.tries, self.max_step, self.swap_rate = population, parents, tries, max_step, swap_rate
        self.preferred_batch = population - 1
        self.groups = self._check_groups(groups)
        self._pool = np.empty((0, self.nvec.size), dtype=np.int64)  # the elite and the children told since the last breeding
        self._fit = np.empty(0)
        self._infeasible = 0  # children told since the last breeding that broke the constraints
        self._queue = self._first_generation(seed_design, seed_fitness)

    def _check_groups(self, groups) -> list[np.ndarray]:
        if groups is None:
            return [np.flatnonzero(self.nvec == k) for k in np.unique(self.nvec)]
        out = [np.asarray(g, dtype=np.int64).reshape(-1) for g in groups]
        for g in out:
            if g.size == 0 or np.any(g < 0) or np.any(g >= self.nvec.size) or np.any(self.nvec[g] != self.nvec[g[0]]):
                raise ValueError(f"swap group {g.tolist()}: expected gene indices in 0..{self.nvec.size - 1} with the same number of levels")
        return out

    def _first_generation(self, seed_design, seed_fitness) -> np.ndarray:
        if seed_design is None:
            return self.random_designs(self.population)
        seed_design = np.asarray(seed_design, dtype=np.int64)
        if seed_design.shape != self.nvec.shape or np.any(seed_design < 0) or np.any(seed_design >= self.nvec):
            raise ValueError(f"seed_design {seed_design.tolist()} does not fit the design space nvec={self.nvec.tolist()}")
        if seed_fitness is None:  # priced first, with its first children
            return np.concatenate([seed_design[None, :], self.swap(self.mutate(np.tile(seed_design, (self.population - 1, 1))))])
        # ConfuciuX: the whole first generation is the seed, its fitness known
        self._pool, self._fit = seed_design[None, :].copy(), np.array([float(seed_fitness)])
        return np.empty((0, self.nvec.size), dtype=np.int64)

    def mutate(self, designs: np.ndarray) -> np.ndarray:
        """Copies of ``designs`` (N, D), each changed by ``tries`` moves of one random gene."""
        out = designs.copy()
        rows = np.arange(len(out))
        for _ in range(self.tries):
            gene = self.rng.integers(0, self.nvec.size, len(out))
            step = self.rng.integers(-self.max_step, self.max_step + 1, len(out))
            out[rows, gene] = np.clip(out[rows, gene] + step, 0, self.nvec[gene] - 1)
        return out

    def swap(self, designs: np.ndarray) -> np.ndarray:
        """``designs`` (N, D) where each, with probability ``swap_rate``, swaps two genes of one group."""
        out = designs.copy()
        for row in np.flatnonzero(self.rng.random(len(out)) < self.swap_rate):
            group = self.groups[self.rng.integers(len(self.groups))]
            a, b = group[self.rng.integers(0, group.size, 2)]
            out[row, a], out[row, b] = out[row, b], out[row, a]
        return out

    def _next_generation(self) -> np.ndarray:
        """``population - 1`` children of the best designs told so far; the best is kept as the elite."""
        order = np.argsort(self._fit, kind="stable")
        n_parents = max(1, min(self.parents, self.population - self._infeasible, len(order)))
        parents = self._pool[order[:n_parents]]
        self._pool, self._fit = self._pool[order[:1]], self._fit[order[:1]]
        self._infeasible = 0
        children = parents[np.arange(self.population - 1) % n_parents]
        return self.swap(self.mutate(children))

    def ask(self, n: int) -> np.ndarray:
        while self._queue.shape[0] < n:
            self._queue = np.concatenate([self._queue, self._next_generation() if len(self._pool) else self.random_designs(self.population)])
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    def tell(self, designs: np.ndarray, evaluation: Evaluation) -> None:
        self._pool = np.concatenate([self._pool, np.asarray(designs, dtype=np.int64)])
        self._fit = np.concatenate([self._fit, np.asarray(evaluation.fitness, dtype=float)])
        self._infeasible += int(np.count_nonzero(~np.asarray(evaluation.feasible, dtype=bool)))
