"""Built-in dataflow templates, written in MAESTRO's directive syntax.

Sources: MAESTRO's mapping files (``data/mapping/*_kcp_ws.m``, ``*_rs.m``, ``*_xp_ws.m``,
``*_ykp_os.m``, and the depthwise ``dpt.m`` block) and ConfuciuX's ``data/dataflow/dla.m``,
``eye.m``, ``data/df_file/shi_f.m`` and ``dpt_f.m``. Directive order matters in MAESTRO (it decides
which loop is innermost), so the order here is the order of those files.

``Cluster`` sizes larger than the number of PEs are clipped to it (MAESTRO would otherwise give
zero sub-clusters; the reference runs used ``min(64, num_pes)`` for ``kcp``).
"""

from __future__ import annotations

from .directives import Directive, as_directives, parse_dataflow

KCP = """
SpatialMap(1,1) K; TemporalMap(64,64) C; TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
Cluster(64, P);
SpatialMap(1,1) C; TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

YRP = """
SpatialMap(1,1) Y'; TemporalMap(1,1) X'; TemporalMap(1,1) C; TemporalMap(16,16) K;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
Cluster(Sz(R), P);
SpatialMap(1,1) Y; SpatialMap(1,1) R; TemporalMap(Sz(S),Sz(S)) S;
"""

XP = """
TemporalMap(1,1) K; TemporalMap(1,1) C; TemporalMap(Sz(R),1) Y; SpatialMap(Sz(S),1) X;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

YKP = """
TemporalMap(16,16) K; SpatialMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X; TemporalMap(1,1) C;
Cluster(16, P);
SpatialMap(1,1) K; TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
TemporalMap(Sz(R),7) R; TemporalMap(Sz(S),7) S;
"""

CFX_DLA = """
SpatialMap(KTileSz,KTileSz) K; TemporalMap(ClusterSz,ClusterSz) C;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S; TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
Cluster(ClusterSz, P);
SpatialMap(1,1) C; TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

CFX_SHI = """
TemporalMap(KTileSz,KTileSz) K; SpatialMap(Sz(R),Sz(R)) Y'; TemporalMap(ClusterSz,ClusterSz) X';
TemporalMap(CTileSz,CTileSz) C; TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
Cluster(ClusterSz, P);
TemporalMap(1,1) C; TemporalMap(1,1) Y'; SpatialMap(1,1) X';
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

CFX_EYE = """
TemporalMap(CTileSz,CTileSz) C; TemporalMap(KTileSz,KTileSz) K; SpatialMap(ClusterSz,ClusterSz) Y';
TemporalMap(Sz(S),Sz(S)) X'; TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
Cluster(ClusterSz, P);
TemporalMap(1,1) C; SpatialMap(1,1) Y'; SpatialMap(1,1) X';
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

#: MAESTRO's depthwise template (used for DSCONV layers with kcp / yrp / xp / ykp).
DEPTHWISE = """
SpatialMap(1,1) C; TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

#: ConfuciuX's depthwise template (used for DSCONV layers with the cfx_* dataflows).
CFX_DEPTHWISE = """
SpatialMap(KTileSz,KTileSz) C; TemporalMap(Sz(R),1) Y; TemporalMap(Sz(S),1) X;
TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;
"""

_TEXT = {
    "kcp": KCP,
    "yrp": YRP,
    "xp": XP,
    "ykp": YKP,
    "cfx_dla": CFX_DLA,
    "cfx_shi": CFX_SHI,
    "cfx_eye": CFX_EYE,
    "depthwise": DEPTHWISE,
    "cfx_depthwise": CFX_DEPTHWISE,
}

#: Alternative names accepted by :func:`get_template`.
ALIASES = {"dla": "cfx_dla", "shi": "cfx_shi", "eye": "cfx_eye", "kc-p": "kcp", "yr-p": "yrp", "x-p": "xp", "yk-p": "ykp"}

#: Dataflow names usable in :func:`~.model.evaluate` (the depthwise ones are picked automatically).
DATAFLOWS: tuple[str, ...] = ("kcp", "yrp", "xp", "ykp", "cfx_dla", "cfx_shi", "cfx_eye")

TEMPLATES: dict[str, tuple[Directive, ...]] = {k: parse_dataflow(v) for k, v in _TEXT.items()}


def canonical_name(name: str) -> str:
    """The canonical template name for ``name`` (aliases resolved); ValueError if unknown."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in TEMPLATES:
        raise ValueError(
            f"unknown dataflow {name!r}; expected one of {', '.join(DATAFLOWS)} "
            f"(aliases {', '.join(sorted(ALIASES))}) or a list of directives"
        )
    return key


def get_template(name: str) -> tuple[Directive, ...]:
    """The directive tuple of a built-in template."""
    return TEMPLATES[canonical_name(name)]


def depthwise_for(name: str) -> str:
    """Name of the depthwise template that goes with dataflow ``name``."""
    return "cfx_depthwise" if canonical_name(name).startswith("cfx_") else "depthwise"


def resolve_dataflow(dataflow) -> tuple[str, tuple[Directive, ...]]:
    """``(key, directives)`` for a template name, MAESTRO text or a directive sequence.

    A string naming a template returns that template; other strings are parsed as MAESTRO text.
    """
    if isinstance(dataflow, str):
        key = dataflow.strip().lower()
        key = ALIASES.get(key, key)
        if key in TEMPLATES:
            return key, TEMPLATES[key]
        if "(" not in dataflow:
            canonical_name(dataflow)  # raises the 'unknown dataflow' error
        dirs = as_directives(dataflow)
        return "custom:" + " ".join(str(d) for d in dirs), dirs
    dirs = as_directives(dataflow)
    return "custom:" + " ".join(str(d) for d in dirs), dirs
