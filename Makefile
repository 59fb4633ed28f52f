# mailmirror: `make test` runs every check CI runs (scripts/test.sh).

export PATH := /usr/local/go/bin:$(PATH)

.PHONY: test build bench

test:
	bash scripts/test.sh

build:
	go build .

# The benchmark harness (bench/); BENCH_ARGS are passed to it.
bench:
	@if [ -d bench ]; then go run ./bench $(BENCH_ARGS); else echo "bench/ does not exist yet" >&2; exit 1; fi
