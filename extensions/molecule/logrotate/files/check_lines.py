"""Read LOG and its rotated files (LOG.N, LOG.N.gz), oldest first, and compare their lines with 1..N.

usage: check_lines.py LOG N    prints a JSON summary:
  lines, duplicates, missing, out_of_range, bad_lines (not a number, e.g. NUL bytes left by a truncation),
  gaps_inside_files (missing lines in the middle of one file), gaps_between_files (missing lines between the
  end of a rotated file and the start of the next one: the copytruncate window), files (name and line count).
"""
import glob
import gzip
import json
import os
import re
import sys

log, expected = sys.argv[1], int(sys.argv[2])


def rotation_number(path):
    match = re.match(re.escape(log) + r"\.(\d+)(\.gz)?$", path)
    return int(match.group(1)) if match else None


rotated = sorted((p for p in glob.glob(log + ".*") if rotation_number(p) is not None), key=rotation_number,
                 reverse=True)
files = []
numbers = []
bad = 0
gaps_inside = 0
gaps_between = 0
for path in rotated + [log]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as handle:
        content = [line.rstrip("\n") for line in handle]
    values = []
    for line in content:
        if line.isdigit():
            values.append(int(line))
        else:
            bad += 1
    gaps_inside += sum(1 for a, b in zip(values, values[1:]) if b != a + 1)
    if numbers and values and values[0] != numbers[-1] + 1:
        gaps_between += 1
    files.append({"file": os.path.basename(path), "lines": len(values)})
    numbers.extend(values)

seen = set(numbers)
print(json.dumps({
    "expected": expected,
    "lines": len(numbers),
    "duplicates": len(numbers) - len(seen),
    "missing": len(set(range(1, expected + 1)) - seen),
    "out_of_range": len([n for n in seen if not 1 <= n <= expected]),
    "bad_lines": bad,
    "gaps_inside_files": gaps_inside,
    "gaps_between_files": gaps_between,
    "files": files,
}))
