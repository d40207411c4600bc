"""ConfuciuX's layer files (``data/cfx/*.csv``), loaded as-is under the names ``cfx/<file>``.

The files come from github maestro-project/confuciux, ``data/model/`` (MIT; see
``data/cfx/README.md``). Format ``K,C,Y,X,R,S,T`` (``Y, X`` input rows/cols, ``T=1`` conv,
``T=2`` depthwise written MAESTRO's way with ``K=1``). ConfuciuX ran every layer at stride 1
without padding, so each row loads with ``stride=1, padding=0``; depthwise rows become
``K=C=groups=channels``. There are no classifier rows and no residual edges. These tables are
what ConfuciuX optimised, not the real networks: for those use the zoo names without ``cfx/``.
"""

from __future__ import annotations

from importlib import resources

from .io import parse_layer_csv
from .layer_table import LayerTable

PREFIX = "cfx/"


def _data_dir():
    return resources.files(__package__).joinpath("data", "cfx")


def list_cfx() -> list[str]:
    """Names of the shipped ConfuciuX tables, ``cfx/<file stem>``, sorted."""
    return sorted(PREFIX + p.name[:-4] for p in _data_dir().iterdir() if p.name.endswith(".csv"))


def load_cfx(name: str) -> LayerTable:
    """Load a ConfuciuX table by name, with or without the ``cfx/`` prefix (``cfx/mobilenet_v2``).

    Raises:
        ValueError: no such table; the message lists the available ones.
    """
    stem = name[len(PREFIX):] if name.startswith(PREFIX) else name
    path = _data_dir().joinpath(stem + ".csv")
    if "/" in stem or not path.is_file():
        raise ValueError(f"no ConfuciuX table {name!r}; available: {', '.join(list_cfx())}")
    return parse_layer_csv(path.read_text(), PREFIX + stem, source=f"{PREFIX}{stem}.csv")
