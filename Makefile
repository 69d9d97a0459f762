# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8080
CONFIG ?= providers.yaml
BIN    := $(VENV)/bin

.PHONY: run check test install install-test lint clean bench browser mail-servers deploy-tools image-tools soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/autoconfig serve --config $(CONFIG) --host $(HOST) --port $(PORT)

# `autoconfig check` of the file `make run` serves, without knowing where the command lives.
check: install
	$(BIN)/autoconfig check --config $(CONFIG)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The settings page's browser tests use Debian's chromium and chromedriver: installed here when
# missing and possible (root with apt-get); otherwise those tests skip and say why.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing chromium and chromium-driver for the browser tests" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      -o DPkg::Lock::Timeout=300 chromium chromium-driver >/dev/null) || \
	      echo "make: could not install chromium; the browser tests will be skipped" >&2; \
	  else \
	    echo "make: chromium not installed (needs root and apt-get); browser tests will skip" >&2; \
	  fi; \
	fi

# The doctor's tests run Debian's Dovecot (IMAP, POP3) on loopback: installed here when missing and
# possible (root with apt-get); otherwise those tests skip and say why.
mail-servers:
	@if ! command -v dovecot >/dev/null && [ ! -x /usr/sbin/dovecot ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing dovecot-imapd and dovecot-pop3d for the doctor tests" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      -o DPkg::Lock::Timeout=300 dovecot-imapd dovecot-pop3d >/dev/null) || \
	      echo "make: could not install dovecot; the doctor's IMAP/POP3 tests will be skipped" >&2; \
	  else \
	    echo "make: dovecot not installed (needs root and apt-get); doctor IMAP/POP3 tests skip" >&2; \
	  fi; \
	fi

# tests/test_deploy.py checks deploy/ with Debian's nginx, caddy and systemd-analyze: installed here
# when missing and possible (root with apt-get); otherwise those tests skip and say why.
deploy-tools:
	@missing=""; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v caddy >/dev/null || missing="$$missing caddy"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing$$missing for the deploy tests" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      -o DPkg::Lock::Timeout=300 $$missing >/dev/null) || \
	      echo "make: could not install$$missing; those deploy tests will be skipped" >&2; \
	  else \
	    echo "make:$$missing not installed (needs root and apt-get); those deploy tests skip" >&2; \
	  fi; \
	fi

# tests/test_image.py builds deploy/Dockerfile with Debian's podman and runs it with runc (crun fails
# here), on a base image it makes with mmdebstrap: installed here when missing and possible (root
# with apt-get; without recommends, which root's podman does not need); otherwise those tests skip
# and say why. The base image is made once and kept in podman's storage, like the build's layers.
image-tools:
	@missing=""; \
	command -v podman >/dev/null || missing="$$missing podman"; \
	command -v runc >/dev/null || [ -x /usr/sbin/runc ] || missing="$$missing runc"; \
	command -v mmdebstrap >/dev/null || missing="$$missing mmdebstrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing$$missing for the image tests" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      -o DPkg::Lock::Timeout=300 --no-install-recommends $$missing >/dev/null) || \
	      echo "make: could not install$$missing; the image tests will be skipped" >&2; \
	  else \
	    echo "make:$$missing not installed (needs root and apt-get); the image tests skip" >&2; \
	  fi; \
	fi

# pytest exits 5 when it collected nothing: a broken suite, reported as a failure.
test: install-test lint browser mail-servers deploy-tools image-tools
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# About 60 s of mixed traffic with reloads against a live server on loopback (tests/test_soak.py);
# `make test` skips it (the soak marker is deselected by default).
soak: install-test
	$(BIN)/python -m pytest -m soak -s tests/test_soak.py

# Benchmark against a bare aiohttp app (see bench/run.py); installs wrk where it can.
bench: install
	@command -v wrk >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)))
	cd bench && ../$(BIN)/python run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
