# Two commands do everything on a fresh machine:  `make demo`  and  `make test`.
PY      := .venv/bin/python
STAMP   := .venv/.installed

.PHONY: install demo test test-all lint clean

$(STAMP): pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install -q -U "pip==25.3"
	.venv/bin/pip install -q -e ".[dev]"
	@# headless Chromium renders the HTML report in its test (Debian package; needs root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: chromium not installed; the report's browser test will be skipped"
	touch $(STAMP)

install: $(STAMP)

## Command 1: install, then run the demo (synthesise -> SFT -> GRPO/T-GRPO -> eval -> report).
demo: $(STAMP)
	.venv/bin/videorft demo --out runs/demo

## Command 2: install, then lint and run the default test suite (slow tests excluded).
test: $(STAMP)
	.venv/bin/ruff check src tests benchmarks studies
	.venv/bin/ruff format --check src tests benchmarks studies
	$(PY) -m pytest -m "not slow" -n 2

## CI: everything, slow end-to-end tests included.
test-all: $(STAMP)
	.venv/bin/ruff check src tests benchmarks studies
	.venv/bin/ruff format --check src tests benchmarks studies
	$(PY) -m pytest -n 2

lint: $(STAMP)
	.venv/bin/ruff check --fix src tests benchmarks studies
	.venv/bin/ruff format src tests benchmarks studies

clean:
	rm -rf .venv runs .pytest_cache .ruff_cache
