# Thin wrappers: the CI script is the source of truth.
.PHONY: test lint bench

# test runs everything CI runs: installs, checks, then go test -race.
test:
	bash .ci/run

# lint runs the checks only (gofmt, tidy, vet, staticcheck, gosec, govulncheck).
lint:
	WARD_CI_ONLY=lint bash .ci/run

# bench runs the benchmark harness when the tree has one.
bench:
	@if [ -f bench/run ]; then bash bench/run; else echo "no bench/run in this tree yet: nothing to run"; fi
