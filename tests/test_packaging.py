"""Every source folder is listed in pyproject.toml, so a wheel (not only an editable install) has it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_folder_is_a_listed_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    dirs = config["package-dir"]
    assert listed == set(dirs), "packages and package-dir must name the same packages"
    for top in ("costmodels", "envs", "wrappers", "agents", "experiments"):
        for folder in [ROOT / top, *[p for p in (ROOT / top).rglob("*") if p.is_dir()]]:
            if folder.name == "__pycache__" or not any(folder.glob("*.py")):
                continue
            package = "codesign_gym." + ".".join(folder.relative_to(ROOT).parts)
            assert package in listed, f"{folder.relative_to(ROOT)} has modules but {package} is not in pyproject.toml"
            assert dirs[package] == str(folder.relative_to(ROOT)), package
