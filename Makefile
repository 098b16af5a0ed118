# ZCloud developer entry points.
#
#   make build   build every command into bin/
#   make dev     build, then run the one-command quickstart (./bin/zcloud dev)
#   make test    all tests: SQLite always, plus MariaDB when it is installed (private instance
#                under var/test-mariadb, started and stopped by deploy/scripts/test.sh)
#   make bench   every benchmark once (deploy/scripts/bench.sh)
#   make lint    gofmt check, go vet, golangci-lint (installed into bin/tools on first use)
#   make clean   remove bin/ and var/ (never the Go build or module cache)
#
# Knobs: PKGS=./models/... (packages for test/bench), TESTFLAGS='-run Foo -v',
#        TEST_TIMEOUT=25m, DEV_ARGS='--libvirt' (passed to zcloud dev).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
# Go lives in /usr/local/go on our machines; non-login shells may not have it on PATH.
ifeq ($(shell command -v $(GO) 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif
# No VCS stamping: builds work in clean clones, worktrees and tarballs alike. Flags already in
# GOFLAGS come after ours, so they win.
export GOFLAGS := -buildvcs=false $(GOFLAGS)

PKGS ?= ./...
TESTFLAGS ?=
TEST_TIMEOUT ?= 25m
DEV_ARGS ?=

# The libvirt host driver (cgo, build tag libvirt) is built and tested where libvirt-dev is
# installed, and skipped elsewhere; CI sets ZCLOUD_REQUIRE_LIBVIRT=1 to make its absence an error.
LIBVIRT_TAG := $(shell pkg-config --exists libvirt 2>/dev/null && echo libvirt)
ifeq ($(ZCLOUD_REQUIRE_LIBVIRT)$(LIBVIRT_TAG),1)
$(error ZCLOUD_REQUIRE_LIBVIRT=1 but pkg-config finds no libvirt: apt-get install libvirt-dev pkg-config)
endif
GOTAGS := $(if $(LIBVIRT_TAG),-tags=$(LIBVIRT_TAG))

GOLANGCI_LINT_VERSION ?= v2.15.0
WORKFLOWCHECK_VERSION ?= v0.6.0
TOOLS_BIN := $(CURDIR)/bin/tools
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: build dev test bench lint fmt clean help

help:
	@sed -n '3,10p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

dev: build
	./bin/zcloud dev $(DEV_ARGS)

test:
	PKGS='$(PKGS)' TEST_TIMEOUT='$(TEST_TIMEOUT)' deploy/scripts/test.sh $(GOTAGS) $(TESTFLAGS)

bench:
	PKGS='$(PKGS)' deploy/scripts/bench.sh $(TESTFLAGS)

# Go files of the module (not bin/, var/ or testdata/).
GOFILES = $(shell find . -name '*.go' -not -path './bin/*' -not -path './var/*' -not -path './.git/*' \
	-not -path '*/testdata/*')

# All three checks run; the target fails if any of them did.
lint: $(GOLANGCI_LINT)
	@rc=0; \
	echo '>> gofmt'; \
	out=$$(gofmt -l $(GOFILES) </dev/null); \
	if [[ -n "$$out" ]]; then echo "gofmt: these files need 'gofmt -w' (or 'make fmt'):"; echo "$$out"; rc=1; fi; \
	echo '>> go vet'; \
	$(GO) vet $(GOTAGS) ./... || rc=1; \
	echo '>> golangci-lint $(GOLANGCI_LINT_VERSION)'; \
	$(GOLANGCI_LINT) run $(if $(LIBVIRT_TAG),--build-tags=$(LIBVIRT_TAG)) ./... || rc=1; \
	echo '>> workflowcheck (determinism of workflow code)'; \
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION) ./workflows/... || rc=1; \
	exit $$rc

fmt:
	gofmt -w $(GOFILES)

# Built from source through the Go module proxy (no prebuilt binary download), pinned, and kept
# per version so a version bump reinstalls it.
$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS_BIN)/golangci-lint $@

clean:
	-deploy/scripts/mariadb.sh stop var/test-mariadb
	rm -rf bin var
