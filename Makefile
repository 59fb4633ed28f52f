# mailmirror: `make test` runs every check CI runs (scripts/test.sh).

export PATH := /usr/local/go/bin:$(PATH)

.PHONY: test build bench man dist

test:
	bash scripts/test.sh

build:
	go build .

# The sync benchmark against mbsync (bench/sync, docs/benchmarks.md);
# BENCH_ARGS are passed to it, e.g. make bench BENCH_ARGS="-messages 2000".
bench:
	go run ./bench/sync $(BENCH_ARGS)

# The man pages, generated from the commands' --help and config.KeyDocs;
# checked in under docs/man/ (a test fails when they are stale).
man:
	go run ./internal/gendocs docs/man

# Release archives in dist/ (scripts/dist.sh); VERSION=v1.2.3 names them.
dist:
	bash scripts/dist.sh
