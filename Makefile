# Latchkey's everyday commands. `make test` is what CI runs (through .ci/run).

CARGO ?= cargo

.PHONY: build run test lint fmt core-purity

## build: compile every crate and test
build:
	$(CARGO) build --workspace --all-targets

## run: serve on 127.0.0.1:50051 with the SQLite default (no setup needed)
run:
	$(CARGO) run -p latchkey-server -- serve

## test: every test, SQLite and Postgres (CI=true makes Postgres mandatory)
test: core-purity
	$(CARGO) test --workspace

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
