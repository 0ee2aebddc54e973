# Two commands do everything on a fresh machine:
#   make serve   a working appliance on http://0.0.0.0:8080 (prepares a default model if none)
#   make test    the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: setup system-deps runtime-deps serve test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[convert,test]'
	touch $@

system-deps:
	bash scripts/install_system_deps.sh

runtime-deps:
	bash scripts/install_system_deps.sh --runtime

serve: runtime-deps setup
	YOLO_OFFLINE= $(BIN)/python -m conversion.default_model --models models
	$(BIN)/yolo-edge keygen --file var/api_keys
	$(BIN)/yolo-edge serve --config $(CONFIG)

test: system-deps setup
	YOLO_OFFLINE=1 $(BIN)/python -m pytest -ra

clean:
	rm -rf $(VENV) build var .pytest_cache
