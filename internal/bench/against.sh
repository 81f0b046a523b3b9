#!/usr/bin/env bash
# against.sh REV [ROUNDS]: BenchmarkInvocationCPU (kafkalambda/cpu_bench_test.go:
# 1,000 JSON records, neither tracing nor metrics) built from this tree and
# from git revision REV, run in turn ROUNDS times (default 8) on this machine;
# prints each run and the median, over the rounds, of this tree's time divided
# by REV's in the same round (wall and CPU). REV gets today's
# cpu_bench_test.go, which uses only API older than tracing.
#
#	internal/bench/against.sh c3e7dec
set -euo pipefail
rev=${1:?usage: against.sh REV [ROUNDS]}
rounds=${2:-8}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
git -C "$root" archive "$rev" | tar -x -C "$tmp/src"
cp "$root/kafkalambda/cpu_bench_test.go" "$tmp/src/kafkalambda/"
(cd "$tmp/src" && go test -c -o "$tmp/base.test" ./kafkalambda/)
(cd "$root" && go test -c -o "$tmp/new.test" ./kafkalambda/)
for i in $(seq "$rounds"); do
	for b in base new; do
		"$tmp/$b.test" -test.run '^$' -test.bench '^BenchmarkInvocationCPU$' -test.benchmem |
			grep '^Benchmark' | sed "s/^/$b round=$i /"
	done
done | tee "$tmp/runs.txt"
# Columns: which round=N name N ns/op ns/op cpu-ns/op cpu-ns/op B/op B/op allocs/op allocs/op
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratios() { # column: 5 wall, 7 cpu
	awk -v col="$1" '{ v[$1 "," $2] = $col } END { for (k in v) if (k ~ /^new,/) print v[k] / v["base," substr(k, 5)] }' "$tmp/runs.txt"
}
echo "median new/base over $rounds rounds: wall $(ratios 5 | median), cpu $(ratios 7 | median)"
