# logship — make test (everything CI runs) and make demo (the receiver, locally, no AWS account).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

.PHONY: test demo venv build lint unit integration clean

test: venv build lint
	scripts/test.sh

demo: venv
	scripts/demo.sh

# The Python side of the local stack (moto, cfn-lint, cargo-lambda + zig), pinned.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Debug binaries for the end-to-end tests: same profile and features as the tests, so the SDK
# compiles once.
build:
	cargo build --workspace --bins --locked

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

clean:
	rm -rf $(VENV) .demo target
