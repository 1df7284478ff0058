"""Compare docker_bloat_facts' totals (JSON argument) with `docker system df` on the same daemon.

The CLI prints sizes rounded to 4 significant digits in decimal units ("174.1MB", "12.5kB"), so a
figure agrees when it lies within half a unit of the last digit the CLI printed. Exits 1 and says which figure differs.
"""
import json
import re
import subprocess
import sys

UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "TB": 1000 ** 4}
CATEGORY = {"Images": "images", "Containers": "containers", "Local Volumes": "volumes", "Build Cache": "build_cache"}


def agrees(ours, printed):
    number, unit = re.match(r"^([\d.]+)\s*([kMGT]?B)", printed.strip()).groups()
    decimals = len(number.split(".")[1]) if "." in number else 0
    half_last_digit = 0.5 * 10 ** -decimals * UNITS[unit]
    return abs(ours - float(number) * UNITS[unit]) <= half_last_digit


totals = json.loads(sys.argv[1])
rows = [json.loads(line) for line in subprocess.check_output(
    ["docker", "system", "df", "--format", "{{json .}}"], text=True).splitlines()]
problems = []
for row in rows:
    ours = totals[CATEGORY[row["Type"]]]
    if int(row["TotalCount"]) != ours["count"]:
        problems.append(f"{row['Type']}: count {ours['count']} vs docker's {row['TotalCount']}")
    if int(row["Active"]) != ours["active"]:
        problems.append(f"{row['Type']}: active {ours['active']} vs docker's {row['Active']}")
    if not agrees(ours["size_bytes"], row["Size"]):
        problems.append(f"{row['Type']}: size {ours['size_bytes']} vs docker's {row['Size']}")
    if not agrees(ours["reclaimable_bytes"], row["Reclaimable"].split(" (")[0]):
        problems.append(f"{row['Type']}: reclaimable {ours['reclaimable_bytes']} vs docker's {row['Reclaimable']}")
    print(f"{row['Type']}: docker says {row['Size']} / {row['Reclaimable']}; "
          f"facts say {ours['size_bytes']} / {ours['reclaimable_bytes']} bytes")
if problems:
    print("\n".join(problems))
    sys.exit(1)
