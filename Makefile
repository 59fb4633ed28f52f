# mailmirror: `make test` runs every check CI runs (scripts/test.sh).

export PATH := /usr/local/go/bin:$(PATH)

.PHONY: test build bench

test:
	bash scripts/test.sh

build:
	go build .

# The sync benchmark against mbsync (bench/sync, docs/benchmarks.md);
# BENCH_ARGS are passed to it, e.g. make bench BENCH_ARGS="-messages 2000".
bench:
	go run ./bench/sync $(BENCH_ARGS)
