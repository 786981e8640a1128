# Everyday commands. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# A first run is a local demo: DEBUG on unless the environment says otherwise.
export DEBUG ?= 1

.PHONY: run test lint install migrate demo-data serve check-deploy clean lb loadtest lighthouse

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --no-input

# Commands typed by hand (manage.py, benchmarks, the README's examples) read .env: make run
# writes one for this checkout once, with DEBUG on and a random local SECRET_KEY (never
# committed; real environment variables win over it).
.env: | $(BIN)/python
	@$(BIN)/python -c "import secrets; print('DEBUG=1'); print('SECRET_KEY=' + secrets.token_urlsafe(50))" > .env
	@echo "wrote .env (DEBUG=1 and a local SECRET_KEY) for commands run by hand"

demo-data: migrate .env
	$(BIN)/python manage.py ensure_demo_user
	$(BIN)/python manage.py load_tpch --scale 0.01 --if-empty

run: demo-data
	$(BIN)/honcho start --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Tests run as production would (DEBUG off); they need some SECRET_KEY.
test: lint
	DEBUG=0 SECRET_KEY=collectstatic $(BIN)/python manage.py collectstatic --no-input -v0
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-test-only-secret-key-not-for-production} \
		$(BIN)/pytest $(PYTEST_ARGS)

# nginx (Debian package) on 127.0.0.1:8080 in front of two gunicorns; Ctrl-C stops them.
lb: migrate
	deploy/lb.sh

# Locust, headless, against a fresh `make lb` setup per mode of LOADTEST_MODES: as
# configured (caching and replica routing on), both off, and the system before this phase
# (reports inside the request, one server), each followed by a capacity search over STEPS
# users (empty: none); then the scaling curve with CURVE web processes pinned with taskset
# (empty: none). Results, the criteria and curve.svg in loadtest/results/ (~15 min).
USERS ?= 200
DURATION ?= 60s
STEPS ?= 5,10,20,50,100,200,300,400,500,700,1000
CURVE ?= 1,2,4
LOADTEST_MODES ?= optimized baseline before
loadtest: migrate
	USERS=$(USERS) DURATION=$(DURATION) STEPS=$(STEPS) CURVE=$(CURVE) LOADTEST_MODES="$(LOADTEST_MODES)" loadtest/run.sh

# Lighthouse CI: @lhci/cli from lighthouse/package-lock.json (npm ci), then lighthouse/run.py
# audits the main pages logged in, desktop and mobile, on a gunicorn of its own (DEBUG off,
# its own SQLite database with TPC-H scale 0.01) and asserts the budgets of
# lighthouse/lighthouserc.*.json. Reports and summary.md in lighthouse/results/.
LHCI_STAMP := lighthouse/node_modules/.installed
$(LHCI_STAMP): lighthouse/package-lock.json
	cd lighthouse && npm ci --no-audit --no-fund --loglevel=error
	@touch $(LHCI_STAMP)

lighthouse: install $(LHCI_STAMP)
	$(BIN)/python lighthouse/run.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache lighthouse/node_modules lighthouse/results
