"""Every registered env, single (``gymnasium.make``) and natively vectorized (``make_vec``), fed
hostile actions and options: the outcome is a clear error (ValueError/TypeError naming the value)
or a valid step, never another exception, never a negative or NaN count in ``info``, and the single
and the vector env agree on every per-sub-env action (issue 15)."""

from __future__ import annotations

import inspect
import math
import warnings

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codesign_gym.envs  # noqa: F401  (registers the ids)
from codesign_gym.envs import ENV_IDS, problem_class

NUM_ENVS = 3
#: (id, options) of every env and the action forms it offers; small where an env is slow to step.
VARIANTS = [
    ("codesign/ResourceAssignment-v0", {}),
    ("codesign/BatchSizePowerLimit-v0", {"recurrences": 2}),
    ("codesign/BatchSizePowerLimit-v0", {"recurrences": 2, "power_limit": "jit"}),
    ("codesign/PatchInference-v0", {}),
    ("codesign/EarlyExitDVFS-v0", {}),
    ("codesign/EarlyExitDVFS-v0", {"mode": "two_level"}),
    ("codesign/NASAccelerator-v0", {"search": "network", "samples": 8}),
    ("codesign/NASAccelerator-v0", {"search": "network", "samples": 8, "action": "multidiscrete"}),
    ("codesign/NASAccelerator-v0", {"search": "network", "samples": 8, "mode": "sequential"}),
]
#: info keys that count something (cycles, MACs, tries, ...): never negative, never NaN.
COUNT_WORDS = ("macs", "cycles", "epochs", "try", "recurrence", "num_pes", "bytes", "entry", "batch_size", "count")
FAST = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

_BUILT: dict[int, tuple] = {}


def _envs(i: int):
    """The single and vector env of ``VARIANTS[i]``, built once per test session."""
    if i not in _BUILT:
        env_id, options = VARIANTS[i]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            single = gymnasium.make(env_id, **options)
            vector = gymnasium.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode="vector_entry_point", **options)
        _BUILT[i] = (single, vector)
    return _BUILT[i]


def test_every_registered_id_is_fuzzed():
    assert {v[0] for v in VARIANTS} == set(ENV_IDS)


def _bound(space) -> int:
    if isinstance(space, gymnasium.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return int(space.nvec.max())
    return 1


@st.composite
def actions(draw, space):
    """A single env's action: a valid one in some dtype, or one of a wrong shape, dtype or range."""
    shape = space.shape
    kind = draw(st.sampled_from(["valid", "valid", "shape", "dtype", "range", "nonfinite", "object"]))
    base = np.asarray(space.sample())
    if kind == "valid":
        dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8]) if base.dtype.kind in "iu" else st.sampled_from([np.float32, np.float64]))
        return base.astype(dtype)
    if kind == "shape":
        new = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple).filter(lambda s: s != shape))
        return np.zeros(new, dtype=base.dtype)
    if kind == "dtype":
        return base.astype(draw(st.sampled_from([bool, np.float64, np.float32, np.complex128, np.str_])))
    if kind == "range":
        hi = _bound(space)
        values = draw(st.lists(st.integers(-3, hi + 3) | st.sampled_from([2**63 - 1, -(2**63)]), min_size=max(base.size, 1),
                               max_size=max(base.size, 1)))
        return np.asarray(values, dtype=np.int64).reshape(shape)
    if kind == "nonfinite":
        out = base.astype(np.float64).reshape(-1).copy()
        if out.size:
            out[draw(st.integers(0, out.size - 1))] = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1.5, -0.5]))
        return out.reshape(shape)
    return draw(st.sampled_from([None, "0", [[1], [1, 2]], {"a": 1}, object()]))


def _outcome(step, action):
    """``("ok", info)`` for a valid step, ``("refused", message)`` for a clear error; anything else fails."""
    try:
        _, reward, _, _, info = step(action)
    except (ValueError, TypeError) as err:
        text = str(err)
        assert "expected" in text and any(w in text for w in ("action", "design")), f"unclear error for {action!r}: {text}"
        return "refused", text
    assert np.all(np.isfinite(np.asarray(reward, dtype=np.float64))), f"non-finite reward for {action!r}"
    return "ok", info


def _check_counts(info: dict) -> None:
    for key, value in info.items():
        if key.startswith("_") or key == "config":
            continue
        arr = np.asarray(value)
        if key != "design" and not any(w in key.lower() for w in COUNT_WORDS):
            continue  # e.g. split_layer -1 is "no split", not a count
        if arr.dtype.kind in "iu":
            assert (arr >= 0).all(), f"negative count {key}={value!r}"
        elif arr.dtype.kind == "f":
            mask = np.asarray(info.get("_" + key, True), dtype=bool)
            vals = arr[mask] if arr.ndim and mask.shape == arr.shape[:1] else arr
            assert not np.isnan(vals).any() and (vals >= 0).all(), f"count {key}={value!r}"


@pytest.mark.parametrize("variant", range(len(VARIANTS)), ids=[f"{v[0].split('/')[1]}-{'-'.join(map(str, v[1].values()))}" for v in VARIANTS])
def test_single_and_vector_agree_on_every_action(variant):
    single, vector = _envs(variant)

    @FAST
    @given(data=st.data())
    def check(data):
        action = data.draw(actions(single.action_space))
        single.reset(seed=0)
        vector.reset(seed=0)
        s_kind, s_out = _outcome(single.step, action)
        try:
            batch = np.stack([np.asarray(action)] * NUM_ENVS)
        except (TypeError, ValueError):
            batch = [action] * NUM_ENVS
        v_kind, v_out = _outcome(vector.step, batch)
        assert s_kind == v_kind, f"single {s_kind} but vector {v_kind} for {action!r}: {s_out if s_kind == 'refused' else v_out}"
        if s_kind == "ok":
            _check_counts(s_out)
            _check_counts(v_out)
            assert set(s_out) == {k for k in v_out if not k.startswith("_")}, "single and vector info keys differ"

    check()


def test_bool_actions_are_refused_everywhere():
    for i in range(len(VARIANTS)):
        single, vector = _envs(i)
        single.reset(seed=0)
        vector.reset(seed=0)
        action = np.ones(single.action_space.shape, dtype=bool)
        with pytest.raises(ValueError, match="action"):
            single.step(action)
        with pytest.raises(ValueError, match="dtype bool"):
            vector.step(np.stack([action] * NUM_ENVS))


def test_wrongly_sized_batch_after_an_episode_ended_is_a_value_error():
    single, vector = _envs(1)  # BatchSizePowerLimit, recurrences=2
    vector.reset(seed=0)
    good = np.stack([np.asarray(vector.unwrapped.problem.default)] * NUM_ENVS)
    terminated = np.zeros(NUM_ENVS, dtype=bool)
    for _ in range(200):
        _, _, terminated, _, _ = vector.step(good)
        if terminated.any():
            break
    assert terminated.any()
    for bad in (good[:1], good[:, :1], np.zeros((NUM_ENVS + 1, 2), dtype=np.int64)):
        with pytest.raises(ValueError, match=r"actions have shape .* expected integers of shape \(3, 2\)"):
            vector.step(bad)


def test_early_exit_infos_match_step_for_step():
    single, vector = _envs(5)  # two_level
    _, s_info = single.reset(seed=0)
    _, v_info = vector.reset(seed=0)
    assert set(s_info) == {"mode", "exit_model", "action_mask"}
    assert all(np.asarray(v_info[k]).tolist() == [np.asarray(s_info[k]).tolist()] * NUM_ENVS for k in s_info)
    action = np.asarray(single.action_space.sample())
    action[0] = 1
    for _ in range(2):
        _, _, s_done, _, s_info = single.step(action)
        _, _, v_done, _, v_info = vector.step(np.stack([action] * NUM_ENVS))
        assert set(s_info) == {k for k in v_info if not k.startswith("_")}
        assert v_info["backbone"].tolist() == [s_info["backbone"]] * NUM_ENVS and v_done.tolist() == [s_done] * NUM_ENVS
    assert s_done and s_info["config"]["exits"] == v_info["config"][0]["exits"]


HOSTILE = [True, False, -1, 0, 2, 0.5, -2.5, math.nan, math.inf, "x", "", None, [], [1], {"a": 1}, 2**70]
_BASE = {"codesign/BatchSizePowerLimit-v0": {"recurrences": 2}, "codesign/NASAccelerator-v0": {"samples": 8}}
#: options whose larger values only cost time (mapping-search effort): fuzzed with small values.
_EFFORT = {"samples", "rounds", "recurrences", "max_tries", "importance_levels"}


def _build(env_id: str, options: dict):
    """``("ok", None)`` or ``("refused", message)`` of building ``env_id`` (single, then vector)."""
    out = []
    for make in (lambda: gymnasium.make(env_id, **options),
                 lambda: gymnasium.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **options)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make()
            out.append(("ok", None))
        except (ValueError, TypeError) as err:
            out.append(("refused", str(err)))
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_hostile_options_get_a_clear_error(env_id):
    names = [n for n in inspect.signature(problem_class(env_id).__init__).parameters if n != "self"] + ["bogus_option"]

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(name=st.sampled_from(names), value=st.sampled_from(HOSTILE))
    def check(name, value):
        if name in _EFFORT and isinstance(value, int) and not isinstance(value, bool) and value > 2:
            value = 3
        options = {**_BASE.get(env_id, {}), name: value}
        (s_kind, s_msg), (v_kind, v_msg) = _build(env_id, options)
        assert s_kind == v_kind, f"{options}: single {s_kind} ({s_msg}), vector {v_kind} ({v_msg})"
        if s_kind == "refused":
            assert name in s_msg or repr(value) in s_msg or str(value) in s_msg, f"{options}: unclear error {s_msg}"
        if name == "bogus_option" or isinstance(value, bool) and name not in ("shuffle_layers", "action_mask_in_obs"):
            assert s_kind == "refused", f"{options} was accepted"

    check()


@pytest.mark.parametrize("options", [{"sram_kib": -1}, {"sram_kib": True}, {"bytes_per_element": -1}, {"grids": "1234"},
                                     {"widths": [float("nan")]}, {"objective": 3}])
def test_patch_inference_options_name_the_option(options):
    name = next(iter(options))
    with pytest.raises(ValueError, match=name):
        gymnasium.make("codesign/PatchInference-v0", **options)
