#!/usr/bin/env bash
# The pinned SAM CLI (.venv-sam, `make sam-venv`) on template.yaml, offline: no telemetry, no
# AWS account (dummy credentials, a default region; neither command calls AWS).
#
#   scripts/sam.sh validate            sam validate (the SAM transform, after SAM CLI's own
#                                      expansion of Fn::ForEach) and sam validate --lint
#   scripts/sam.sh build [BUILD_DIR]   sam build (BuildMethod rust-cargolambda: cargo lambda
#                                      build --release --arm64 per function), then checks that
#                                      every function of the built template has an arm64
#                                      bootstrap; BUILD_DIR defaults to .aws-sam/build
#
# No --language-extensions flag here on purpose: samconfig.toml opts in to SAM CLI's local
# processing of AWS::LanguageExtensions, and this is what a user's plain `sam build` reads.
# cargo lambda and zig come from .venv/bin (`make venv`), which must be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
sam=.venv-sam/bin/sam
[[ -x $sam ]] || { echo "$sam is missing: run make sam-venv" >&2; exit 1; }

export SAM_CLI_TELEMETRY=0
export AWS_ACCESS_KEY_ID=logship-offline AWS_SECRET_ACCESS_KEY=logship-offline
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_EC2_METADATA_DISABLED=true

case ${1:-} in
  validate)
    "$sam" validate --template-file template.yaml
    "$sam" validate --lint --template-file template.yaml
    ;;
  build)
    build_dir=${2:-.aws-sam/build}
    command -v cargo-lambda >/dev/null || { echo "cargo lambda is not on PATH: make venv, and put .venv/bin on PATH" >&2; exit 1; }
    "$sam" build --template-file template.yaml --build-dir "$build_dir"
    # Every function of the built template, and its artifact: an ELF for aarch64 (e_machine
    # 0xb7) named bootstrap in the function's CodeUri.
    .venv-sam/bin/python - "$build_dir" <<'EOF'
import pathlib, sys, yaml

build = pathlib.Path(sys.argv[1])
template = yaml.safe_load((build / "template.yaml").read_text())
functions = {
    name: r["Properties"]["CodeUri"]
    for name, r in template["Resources"].items()
    if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function"
}
bad = []
for name, code_uri in sorted(functions.items()):
    bootstrap = build / code_uri / "bootstrap"
    head = bootstrap.read_bytes()[:20] if bootstrap.is_file() else b""
    if head[:4] != b"\x7fELF" or head[18:20] != b"\xb7\x00":
        bad.append(f"{name}: {bootstrap} is not an arm64 executable")
    else:
        print(f"{bootstrap}: arm64, {bootstrap.stat().st_size} bytes")
if len(functions) < 3 or bad:
    sys.exit("\n".join(bad) or f"only {len(functions)} functions in the built template")
EOF
    ;;
  *)
    echo "usage: $0 validate | build [BUILD_DIR]" >&2
    exit 2
    ;;
esac
