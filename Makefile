# logship — make test (everything CI runs) and make demo (the receiver, locally, no AWS account).
SHELL := /bin/bash
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

.PHONY: test demo venv sam-venv sam-build build build-arm64 test-arm64 bench fuzz lint clean

# scripts/test.sh runs SAM CLI's own build of the template too (sam validate, sam build).
test: venv sam-venv build lint
	rustup target add aarch64-unknown-linux-gnu
	scripts/test.sh

demo: venv
	scripts/demo.sh

# The Python side of the local stack (moto, cfn-lint, cargo-lambda + zig), pinned.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The AWS SAM CLI, pinned, in its own venv (its boto3, click and cfn-lint pins differ from the
# test stack's).
sam-venv: $(SAM_VENV)/.installed
$(SAM_VENV)/.installed: requirements-sam.txt
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

# `sam build` as a user runs it (samconfig.toml opts in to SAM CLI's expansion of Fn::ForEach):
# the three arm64 bootstraps in .aws-sam/build/<LogicalId>/, offline (scripts/sam.sh). Then
# `sam deploy --guided` with your credentials.
sam-build: venv sam-venv
	rustup target add aarch64-unknown-linux-gnu
	scripts/sam.sh build

# Debug binaries for the end-to-end tests: same profile and features as the tests, so the SDK
# compiles once.
build:
	cargo build --workspace --bins --locked

# What `sam build` runs for each function (BuildMethod rust-cargolambda): release, arm64, zig
# from the venv. Not part of `make test` (a release build of the SDK takes minutes).
build-arm64: venv
	rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64 --lambda-dir target/lambda-arm64
	ls -l target/lambda-arm64/*/bootstrap

# The library's unit tests built for aarch64 (what Lambda's arm64 functions run: the NEON string
# scan among them) and run under qemu-user. Not part of `make test`: it needs Debian's
# qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross, and the SDK built once more.
test-arm64:
	rustup target add aarch64-unknown-linux-gnu
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
	AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
	cargo test --locked --target aarch64-unknown-linux-gnu -p logship --lib

# Performance figures against their budgets, in one run (bench/run.sh): release builds, the
# Python references, the criterion pipeline bench, the Firehose path through the binary, cold
# start, peak RSS and artifact sizes (arm64 ones if `make build-arm64` has run). Fails if a
# budget is not met.
bench: venv
	bench/run.sh

# Every fuzz target (fuzz/) for FUZZ_SECONDS (60) each under AddressSanitizer, on the nightly
# toolchain; installs cargo-fuzz (pinned) into .tools/ on first use. See docs/testing.md.
fuzz:
	scripts/fuzz.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo clippy -p logship --features fuzzing --lib --locked -- -D warnings

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .demo target
