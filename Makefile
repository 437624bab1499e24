# ftpx: the two set-up commands are `make run` and `make test`.
GO        ?= go
BIN       := bin
VAR       := var
FUZZTIME  ?= 10s
PKGS      := ./...

.PHONY: all build run run-s3 minio test lint fuzz fuzz-long bench bench-quick clean

# The MinIO server the object-store tests and make run-s3 use, pinned.
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
# make run-s3's MinIO account (a local development store only).
MINIO_USER     ?= ftpx-dev
MINIO_PASSWORD ?= ftpx-dev-secret

all: build

# The commit --version prints (also where GOFLAGS has -buildvcs=false).
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +changes)
LDFLAGS  := -X ftpx/internal/buildinfo.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ftpx-server ./cmd/ftpx-server
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ftpx ./cmd/ftpx

# run: a working server in the foreground, every front end (ftpx 2121, FTP
# 2122, SFTP 2222 on 127.0.0.1), data under var/, with the demo account from
# conf/accounts.ini.
run: build
	@mkdir -p $(VAR)/data
	@[ -f $(VAR)/accounts.ini ] || install -m 600 conf/accounts.ini $(VAR)/accounts.ini
	@echo "ftpx-server: ftpx on 127.0.0.1:2121, FTP on 127.0.0.1:2122, SFTP on 127.0.0.1:2222,"
	@echo "  the web client at http://127.0.0.1:8080/ (open it in a browser)"
	@echo "demo account: user demo, password demo-password; try:"
	@echo "  FTPX_USER=demo FTPX_PASSWORD=demo-password $(BIN)/ftpx put README.md"
	@echo "  curl -T README.md ftp://demo:demo-password@127.0.0.1:2122/"
	@echo "  sftp -P 2222 demo@127.0.0.1"
	@echo "  curl -u demo:demo-password http://127.0.0.1:8080/api/v1/ls/"
	$(BIN)/ftpx-server --config conf/ftpx-server.ini --ftp-listen 127.0.0.1:2122 --sftp-listen 127.0.0.1:2222 --http-listen 127.0.0.1:8080

# minio: bin/minio at MINIO_VERSION (go install: a few minutes, once).
minio:
	@if [ -x $(BIN)/minio ] && $(GO) version -m $(BIN)/minio 2>/dev/null | grep -q 'github.com/minio/minio[[:space:]]*$(MINIO_VERSION)'; then \
	  echo "$(BIN)/minio is $(MINIO_VERSION)"; \
	else \
	  echo "building $(BIN)/minio $(MINIO_VERSION) (a few minutes, once)"; \
	  GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/minio/minio@$(MINIO_VERSION); \
	fi

# run-s3: MinIO on 127.0.0.1:9000 (data under var/minio) and an
# ftpx-server in the foreground on 127.0.0.1:2121 keeping the homes in its
# bucket "ftpx" (what it keeps locally goes to var/s3-state); Ctrl-C stops
# both.
run-s3: build minio
	@mkdir -p $(VAR)/minio $(VAR)/s3-state
	@[ -f $(VAR)/accounts.ini ] || install -m 600 conf/accounts.ini $(VAR)/accounts.ini
	@echo "MinIO on 127.0.0.1:9000 (user $(MINIO_USER)), data under $(VAR)/minio"
	@echo "ftpx-server on 127.0.0.1:2121 with the homes in s3://ftpx; demo account: user demo, password demo-password"
	@echo "try: FTPX_USER=demo FTPX_PASSWORD=demo-password $(BIN)/ftpx put README.md"
	@MINIO_ROOT_USER=$(MINIO_USER) MINIO_ROOT_PASSWORD=$(MINIO_PASSWORD) MINIO_BROWSER=off \
	  $(BIN)/minio server --quiet --address 127.0.0.1:9000 $(VAR)/minio & minio=$$!; \
	  trap 'kill $$minio 2>/dev/null; wait $$minio' EXIT; trap 'exit 0' INT TERM; \
	  AWS_ACCESS_KEY_ID=$(MINIO_USER) AWS_SECRET_ACCESS_KEY=$(MINIO_PASSWORD) \
	  $(BIN)/ftpx-server --config conf/ftpx-server.ini --root s3://ftpx \
	    --s3-endpoint http://127.0.0.1:9000 --state-dir $(VAR)/s3-state

# test: everything, the object-store tests against a real MinIO included
# (FTPX_REQUIRE_MINIO=1 makes them fail, not skip, without bin/minio).
# e2e (both binaries, real clients, Chromium) runs about ten minutes on two
# cores under -race: past go test's default limit of 10m for one package.
test: lint minio
	FTPX_REQUIRE_MINIO=1 $(GO) test -race -count=1 -timeout 25m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# fuzz: every fuzz target for FUZZTIME each (make test runs them briefly).
# A run that fails without writing a failing input ("context deadline
# exceeded" when the time runs out mid-minimisation, a known go test -fuzz
# flake) is reported and counted as passed; a real finding is written under
# testdata/fuzz and fails the build.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t $(FUZZTIME)"; \
	    if ! out=$$($(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s 2>&1); then \
	      if echo "$$out" | grep -q 'Failing input written to'; then echo "$$out" | tail -40; exit 1; fi; \
	      echo "$$out" | grep -q 'context deadline exceeded' || { echo "$$out" | tail -40; exit 1; }; \
	      echo "  (ended by the fuzzing deadline, no failing input: counted as passed)"; \
	    fi; \
	  done; \
	done

fuzz-long:
	$(MAKE) fuzz FUZZTIME=5m

# bench: the Go benchmarks (bench/gobench.sh) and every bench/*.sh script in
# one run (bench/all.sh, about an hour on 2 cores), ending with one table of
# figures and ratios, also written to bench/results.md. bench/peers.sh
# installs vsftpd, pyftpdlib, curl and lftp, bench/rsync.sh rsync and
# openssh-server, with apt-get when run as root. Smaller runs:
# BENCH_SIZE_MIB, BENCH_FILES, BENCH_RUNS, BENCH_ONLY.
bench: build
	GO=$(GO) bench/all.sh

# bench-quick: the same at small sizes in a minute or two, for trying it
# out (bench/results.md is left alone).
bench-quick: build
	GO=$(GO) BENCH_SIZE_MIB=64 BENCH_FILES=500 BENCH_RUNS=1 BENCH_CONNS=100 \
	  BENCH_CLIENTS=10 BENCH_RESULTS=- bench/all.sh

clean:
	rm -rf $(BIN)
