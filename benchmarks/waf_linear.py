"""Is every managed rule linear under Python's backtracking `re`? A sweep of adversarial inputs.

    python benchmarks/waf_linear.py [--size 2048] [--paranoia 2] [--rules DIR_OR_FILE]
        [--ids 932100,941120]

RE2 is linear by construction; `re` (the engine an experiment picks to replay 2019-07-02) is
not, so a managed rule with nested or adjacent overlapping repetition (`\\s*\\)*\\s*`,
`(?:[^}]*\\$\\{)*`) turns a crafted argument into a stalled process. For every regex condition
of the managed ruleset, and each input built as prefix + unit * n (prefixes that start a rule's
match, units that feed its repetitions), this times one search at n and at 4n and prints the
pairs whose time grew more than `--ratio` times (linear is about 4x) and took over 5 ms; an
exponential pattern is caught first on n = 10 and 20 (it would never finish at n).
Timing, so run it on a quiet machine and rerun what it flags; nothing here is a test.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgelab.policy.waf.rules import load_default_ruleset, load_ruleset  # noqa: E402

PREFIXES = (
    "", "'", "' or ", "1", "${", "{{", "<", "<a ", "from ", "; ", "../", "sleep(", "/*", "--",
    "$(", "#{", "<%", "javascript:", "select ", "union ", "1 and ", "case when ", "if(",
    "0x414141 ", "concat(", "=", "<a href=", "http://", "\\\\", "\r\n", "get ", "| ", "`",
    "o:1:\"", "<?", "exec ", "/etc", "%", "; c", "powershell ", "${::-", "<meta ", "bytes=0-",
    "awk ", "chmod 7", "javascript:void(", "javascript:voi",
)  # fmt: skip
UNITS = (
    " ", "a", "1", "'", "(", ")", "{", "$", "/", ".", ";", "-", "<", "=", ":", "\t", "${",
    "a ", "a.", "\\", "%2e", "}", "*", "|", "&", '"', "\n", "\r\n", "?",
)  # fmt: skip


def search_time(pattern: re.Pattern[str], text: str) -> float:
    start = time.perf_counter()
    pattern.search(text)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048, help="n; each input is also tried at 4n")
    ap.add_argument("--paranoia", type=int, default=2, choices=(1, 2))
    ap.add_argument("--ratio", type=float, default=8.0, help="growth that counts as non-linear")
    ap.add_argument("--rules", type=Path, help="a ruleset directory or file (default: managed)")
    ap.add_argument(
        "--ids", help="only these rule ids, comma-separated (the rules a change touched)"
    )
    args = ap.parse_args()
    only = {int(i) for i in args.ids.split(",")} if args.ids else None
    ruleset = load_ruleset(args.rules) if args.rules else load_default_ruleset()
    flagged, checked = [], 0
    for rule in ruleset.all_rules():
        if rule.paranoia > args.paranoia or (only is not None and rule.id not in only):
            continue
        for cond in rule.when:
            if cond.op != "regex" or not isinstance(cond.arg, str):
                continue
            pattern = re.compile(cond.arg, re.IGNORECASE | re.DOTALL)  # as regex.py compiles
            for prefix in PREFIXES:
                for unit in UNITS:
                    checked += 1
                    # Exponential patterns first, on tiny inputs (n = size would never end).
                    tiny = search_time(pattern, prefix + unit * 10)
                    short = search_time(pattern, prefix + unit * 20)
                    if short > 0.005 and short / max(tiny, 1e-7) > 50:
                        flagged.append((rule.id, prefix, unit + " (n=10, 20)", tiny, short))
                        continue
                    small = search_time(pattern, prefix + unit * args.size)
                    large = search_time(pattern, prefix + unit * (4 * args.size))
                    if large > 0.005 and large / max(small, 1e-7) > args.ratio:
                        flagged.append((rule.id, prefix, unit, small, large))
    print(f"{checked} (rule, input) pairs at n={args.size} and {4 * args.size} under re")
    for rule_id, prefix, unit, small, large in flagged:
        print(
            f"rule {rule_id}: {prefix!r} + {unit!r} * n: {small * 1e3:.1f} ms -> "
            f"{large * 1e3:.1f} ms (x{large / max(small, 1e-7):.0f})"
        )
    if not flagged:
        print(f"none grew more than x{args.ratio:g} for x4 input (and over 5 ms)")


if __name__ == "__main__":
    main()
