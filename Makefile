# One-command set-up and run. Every target creates the virtual environment first if needed.
#   make run    - set up, then run the main job: the ConfuciuX experiment at its small default
#   make demo   - set up, then print the cost-model demo table for MobileNetV2
#   make test   - set up, then run the test suite (what CI runs, via .ci/run)
#
# torch: TORCH_SPEC is installed before the package so that pip never resolves an unpinned
# torch to a multi-GB CUDA build. On the project's machines `torch==2.13.0` is a CPU build on
# local disk. Elsewhere pick your own, e.g.
#   make test TORCH_SPEC=torch TORCH_INDEX=https://download.pytorch.org/whl/cpu
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.codesign-gym-installed

.PHONY: setup run demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/codesign-gym run confuciux

demo: $(STAMP)
	$(VENV)/bin/codesign-gym costmodel demo --workload mobilenet_v2

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/codesign-gym bench costmodel
	$(VENV)/bin/codesign-gym bench env

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
