# Two commands do everything on a fresh machine:
#   make serve   a working appliance on http://0.0.0.0:8080 (prepares a default model if models/ is empty)
#   make test    the whole test suite
# and one for the workstation side:
#   make convert-setup   the conversion tool (yolo-edge-convert: torch, Ultralytics, NNCF) in .venv-convert
# and the container image (docs/container.md):
#   make image           yolo-edge:latest (starts dockerd, makes the Debian 12 base image when absent)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The heavy venv: the convert extra (CUDA torch from PyPI: about 6 GB). make serve uses it once, to export
# the default model; yolo-edge-convert and the tests live there. The serving venv never holds torch.
CONVERT_VENV ?= .venv-convert
CBIN := $(CONVERT_VENV)/bin
CONFIG ?= config.yaml
MODELS ?= models
# PYTHONWARNINGS: setuptools warns about every editable install through pip, even with -q; -qq keeps
# pip's errors and drops its warnings (e.g. about a configured index that lacks a package)
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip -qq --disable-pip-version-check --no-input
CPIP := PYTHONWARNINGS=ignore $(CBIN)/python -m pip -qq --disable-pip-version-check --no-input

.PHONY: setup convert-setup test-setup default-model system-deps runtime-deps serve test clean image

# The runtime only: what systemd/install.sh puts on the device (no torch, no Ultralytics).
setup: $(VENV)/.runtime

$(VENV)/.runtime: pyproject.toml
	@echo "installing the runtime into $(VENV) (first time: about a minute)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install -U pip
	@$(PIP) install -e .
	@touch $@

# The conversion tool (yolo-edge-convert) in its own venv: torch, Ultralytics and NNCF.
convert-setup: $(CONVERT_VENV)/.convert

$(CONVERT_VENV)/.convert: pyproject.toml
	@echo "installing the conversion extra into $(CONVERT_VENV) (torch, Ultralytics, NNCF: about 6 GB, a few minutes)"
	@$(PYTHON) -m venv $(CONVERT_VENV)
	@$(CPIP) install -U pip
	@$(CPIP) install -e '.[convert]'
	@touch $@

# Everything the tests use: the conversion extra (Ultralytics is the reference) and the test tools.
test-setup: $(CONVERT_VENV)/.test

$(CONVERT_VENV)/.test: $(CONVERT_VENV)/.convert
	$(CPIP) install -e '.[convert,test]'
	touch $@

# Only an empty models/ needs the conversion venv: a one-time export, then the runtime serves it.
default-model: setup
	@if ! $(BIN)/python -m conversion.default_model --check --models $(MODELS); then \
	    echo "$(MODELS)/ holds no model: preparing the default one (a one-time export in $(CONVERT_VENV))"; \
	    $(MAKE) --no-print-directory convert-setup && \
	    YOLO_OFFLINE= $(CBIN)/python -m conversion.default_model --models $(MODELS) && \
	    echo "serving needs $(CONVERT_VENV) no more: keep it for yolo-edge-convert and make test, or rm -rf it (~6 GB)"; \
	fi

system-deps:
	bash scripts/install_system_deps.sh

runtime-deps:
	@bash scripts/install_system_deps.sh --runtime

serve: runtime-deps setup default-model
	@$(BIN)/yolo-edge keygen --file var/api_keys
	@$(BIN)/yolo-edge serve --config $(CONFIG)

test: system-deps test-setup
	YOLO_OFFLINE=1 $(CBIN)/python -m pytest -ra

IMAGE ?= yolo-edge:latest
image:
	bash packaging/build_image.sh $(IMAGE)

clean:
	rm -rf $(VENV) $(CONVERT_VENV) build var .pytest_cache
