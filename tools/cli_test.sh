#!/usr/bin/env bash
# End-to-end checks of the `reentry` command: exit codes, findings on the
# example programs, error messages on bad input, and the encode/decode round
# trip. Usage: cli_test.sh PATH/TO/reentry REPO_ROOT
set -uo pipefail
reentry=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

# expect NAME WANT_STATUS PATTERN CMD...: runs CMD, checks its exit status and
# that its combined output matches the extended regex PATTERN.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 3
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [[ $status -ne $want ]]; then
    echo "FAIL $name: exit $status, want $want"
    echo "$out" | tail -20
    failures=$((failures + 1))
    return
  fi
  if [[ -n $pattern ]] && ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output does not match /$pattern/"
    echo "$out" | tail -20
    failures=$((failures + 1))
    return
  fi
  passes=$((passes + 1))
}

ex=$root/corpora/examples
expect aa-found 1 'BUG: spinlock recursion' \
  "$reentry" repro "$ex/irq_reenters_spinlock.txt"
expect aa-lockdep 1 'possible recursive locking detected' \
  "$reentry" repro "$ex/irq_reenters_spinlock.txt"
expect irqsave-clean 0 '0 bug\(s\), 0 warning\(s\)' \
  "$reentry" repro "$ex/irq_reenters_spinlock_irqsave.txt"
expect abba-found 1 'soft lockup' "$reentry" repro "$ex/abba_two_cpus.txt"
expect up-trylock 1 'trylock succeeded on a held lock' \
  "$reentry" repro "$ex/up_nmi_trylock.txt"
expect seqlock 1 'seqlock reader spins' \
  "$reentry" repro "$ex/seqlock_writer_irq_reader.txt"
expect no-lockdep 1 'spinlock recursion' \
  "$reentry" repro --no-lockdep "$ex/irq_reenters_spinlock.txt"

# Bad input: a clear message and exit 2, never a crash.
printf 'lock(A, spinlock_t, "x")\nspin_lok(A)\n' >"$tmp/bad.txt"
expect parse-error 2 'bad.txt:2:1: unknown op' "$reentry" repro "$tmp/bad.txt"
expect missing-file 2 'cannot open' "$reentry" repro "$tmp/nope.txt"
expect unknown-flag 2 'unknown flag --bogus' "$reentry" repro --bogus x
expect bad-bug 2 "unknown bug-zoo id 'BZ-99'" \
  "$reentry" repro --bug=BZ-99 "$ex/abba_two_cpus.txt"
expect bad-cpus 2 'cpus must be an integer' \
  "$reentry" repro --cpus=0 "$ex/abba_two_cpus.txt"
expect no-command 2 'usage' "$reentry"
expect unknown-command 2 "unknown command 'frobnicate'" "$reentry" frobnicate
expect encode-needs-out 2 'out is required' "$reentry" encode "$ex/abba_two_cpus.txt"
expect encode-parse-error 2 'unknown op' "$reentry" encode --out="$tmp/x" "$tmp/bad.txt"

# Text -> bytes -> text is stable, and the binary form reproduces the same
# findings as the text.
expect encode 0 '' "$reentry" encode --out="$tmp/aa.bin" "$ex/irq_reenters_spinlock.txt"
expect decode 0 '' "$reentry" decode --out="$tmp/aa.txt" "$tmp/aa.bin"
expect decoded-text 0 'spin_lock\(A\)' cat "$tmp/aa.txt"
expect reencode 0 '' "$reentry" encode -o "$tmp/aa2.bin" "$tmp/aa.txt"
if cmp -s "$tmp/aa.bin" "$tmp/aa2.bin"; then passes=$((passes + 1)); else
  echo "FAIL roundtrip: bytes differ after decode+encode"; failures=$((failures + 1)); fi
expect binary-repro 1 'BUG: spinlock recursion' "$reentry" repro "$tmp/aa.bin"
# Any bytes decode to a valid program (the decoder is total).
head -c 300 /dev/urandom >"$tmp/random.bin"
expect decode-random 0 '' "$reentry" decode "$tmp/random.bin"

expect bugs 0 'BZ-01' "$reentry" bugs
expect points 0 'rmqueue_bulk:zone_locked' "$reentry" points
expect help 0 'repro' "$reentry" help repro
expect help-flag 0 'usage: reentry repro' "$reentry" repro --help
expect help-flag-short 0 'usage: reentry sweep' "$reentry" sweep -h

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
