# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paste every fix command of an audit report into the host it was written for, the way a user would, and check
that the host is still consistent. Run by extensions/molecule/shared/tasks/paste_fixes.yml on each audit
scenario's test host (as root); stdlib only.

    paste_fixes.py REPORT.json          paste, check, print one JSON document (the verdict: "problems")
    paste_fixes.py --plan REPORT.json   only the classification below, nothing is run (anywhere)

Which commands are pasted (the rule, first match wins). A command is every finding's ``fix.command``, whole, as the
report prints it; it is read without its comment lines (a here-document's body counts: psql runs it). It is NOT
pasted when it
  1. deletes data ("deletes-data"): rm/rmdir/rmi/unlink/shred of anything but the files inside the temporary
     directory the same command made with mktemp ("$tmp"), docker ... prune, journalctl --vacuum-*, SQL
     DROP/DELETE/TRUNCATE/VACUUM, dropdb, truncate, mkfs, wipefs: the user may need what goes;
  2. stops or restarts a service ("restarts-service"): systemctl restart/stop/reload/kill/..., service X
     restart/stop/reload, docker restart/stop/kill/pause, docker compose, supervisorctl, kill/pkill/killall, pg_ctl,
     pg_ctlcluster, reboot/shutdown: the scenario relies on its services (and the audit names these "caution");
  3. changes the kernel of the whole machine ("machine-wide"): sysctl -w/-p/--system, swapon (but --show/-s),
     swapoff, writes into /proc/sys or /sys. These are not namespaced: a test container shares them with every
     other container of the test machine (the swap scenario owns them, under its lock).
Everything else is pasted: read-only diagnostics, drop-ins written after a check, docker update, apt-get clean
(downloaded packages apt fetches again), psql ALTER SYSTEM + pg_reload_conf() (a reload, not a restart).

How: each pasted command runs as ``bash -c COMMAND`` (root, cwd /root, stdin /dev/null, 120 s at most), in report
order; then all of them a second time. The verdict lists a problem when
  - a command exits non-zero the first time;
  - the second paste exits non-zero, unless the command refuses on purpose ("... exists: not overwritten");
  - the second paste changed anything: the state fingerprint (every file under /etc: type, mode, owner, content;
    each container's HostConfig, the image ids; each PostgreSQL data directory's postgresql.auto.conf) differs
    between after the first paste and after the second;
  - a consistency check fails after pasting: `logrotate -d /etc/logrotate.conf` exits 0 with no "error:" line and
    no "duplicate log entry" (always); and, when they passed before pasting: `nginx -t`, `docker info`, every
    container that was running without restarts was not restarted, /etc/docker/daemon.json parses, every fstab
    swap entry is active, every sysctl.d line is "key = value" with the key under /proc/sys.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

# --------------------------------------------------------------------------------------------- classification

TMP_OPERAND = re.compile(r"""^["']?\$\{?tmp\b""")
REMOVERS = re.compile(r"(?<![\w./-])(rm|rmdir|rmi|unlink|shred)(?![\w.-])((?:[ \t]+[^\s;&|)'`]+)*)")
DELETES = [
    (re.compile(r"\bprune\b"), "prune removes what nothing uses now (old images, volumes, build cache)"),
    (re.compile(r"--vacuum-"), "journalctl --vacuum-* deletes the oldest journal files"),
    (re.compile(r"\b(DROP|DELETE\s+FROM|TRUNCATE|VACUUM)\b", re.IGNORECASE), "SQL that drops or deletes rows"),
    (re.compile(r"(?<![\w.-])(dropdb|truncate|mkfs(\.\w+)?|wipefs)(?![\w.-])"), "destroys a database or a file's content"),
]
RESTARTS = [
    re.compile(r"\bsystemctl\s+(--\S+\s+)*(restart|stop|reload|try-restart|reload-or-restart|try-reload-or-restart|"
               r"kill|isolate|disable|mask|daemon-reexec|poweroff|reboot|halt)\b"),
    re.compile(r"\bservice\s+\S+\s+(restart|stop|reload|force-reload)\b"),
    re.compile(r"\bdocker\s+(container\s+)?(restart|stop|kill|pause)\b"),
    re.compile(r"\bdocker(\s+|-)compose\b"),
    re.compile(r"(?<![\w.-])(supervisorctl|pkill|killall|pg_ctl|pg_ctlcluster|reboot|shutdown)(?![\w.-])"),
    re.compile(r"(?<![\w.-])kill\s"),
]
MACHINE_WIDE = [
    re.compile(r"\bsysctl\s+(\S+\s+)*(-w|--write|-p|--load|--system)\b"),
    re.compile(r"\bsysctl\s+(-q\s+)?[\w.]+=\S"),
    re.compile(r"(?<![\w.-])swapon(?![\w.-])(?!\s+(--show|-s\b|--summary))"),
    re.compile(r"(?<![\w.-])swapoff(?![\w.-])"),
    re.compile(r"(>|\btee\s+(-a\s+)?)\s*/(proc/sys|sys)/"),
]


def code_lines(command):
    """The lines of ``command`` that run (or that a here-document feeds to a program): comment lines left out."""
    return [line for line in command.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _removes_data(line):
    """The first rm-like word of ``line`` with an operand outside the command's own mktemp directory, or None."""
    for match in REMOVERS.finditer(line):
        operands = [word for word in match.group(2).split() if not word.startswith("-")]
        if not operands or any(not TMP_OPERAND.match(word) for word in operands):
            return f"{match.group(1)} {' '.join(operands)}".strip()
    return None


def classify(command):
    """(rule, reason) for a command that must not be pasted, (None, None) for one that is pasted."""
    code = code_lines(command)
    for line in code:
        removed = _removes_data(line)
        if removed:
            return "deletes-data", f"removes data ({removed})"
        for pattern, why in DELETES:
            if pattern.search(line):
                return "deletes-data", f"{why}: {line.strip()}"
    for line in code:
        if any(pattern.search(line) for pattern in RESTARTS):
            return "restarts-service", f"stops or restarts a service: {line.strip()}"
    for line in code:
        if any(pattern.search(line) for pattern in MACHINE_WIDE):
            return "machine-wide", f"changes the whole machine's kernel (not namespaced): {line.strip()}"
    return None, None


def plan(report):
    """{"paste": [{id, command}], "skip": [{id, rule, reason}]} for every finding with a fix command, in report order."""
    paste, skip = [], []
    for finding in report.get("findings") or []:
        command = (finding.get("fix") or {}).get("command")
        if not isinstance(command, str) or not command.strip():
            continue
        rule, reason = classify(command)
        if rule:
            skip.append({"id": finding.get("id"), "rule": rule, "reason": reason})
        else:
            paste.append({"id": finding.get("id"), "command": command})
    return {"paste": paste, "skip": skip}

# --------------------------------------------------------------------------------------------- on the host


def run(argv_or_command, timeout=120):
    """(rc, stdout, stderr) of a command (a list) or of a bash command line (a string); rc 127 when absent."""
    argv = ["bash", "-c", argv_or_command] if isinstance(argv_or_command, str) else argv_or_command
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=timeout, cwd="/root" if os.path.isdir("/root") else "/", check=False)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout} s"
    return done.returncode, done.stdout, done.stderr


def _tree(top):
    rows = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            row = f"{path} {stat.filemode(info.st_mode)} {info.st_uid}:{info.st_gid}"
            if stat.S_ISLNK(info.st_mode):
                row += " -> " + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                try:
                    with open(path, "rb") as handle:
                        row += " " + hashlib.sha256(handle.read()).hexdigest()
                except OSError as error:
                    row += f" unreadable {error.errno}"
            rows.append(row)
    return rows


def docker_running():
    return shutil.which("docker") is not None and run(["docker", "info", "--format", "{{.ServerVersion}}"])[0] == 0


def fingerprint():
    """What a second paste must leave as the first left it (see the module's docstring)."""
    rows = _tree("/etc")
    if docker_running():
        rc, out = run("docker ps -aq | xargs -r docker inspect --format '{{.Name}} {{json .HostConfig}}'")[:2]
        rows += ["docker " + line for line in sorted(out.splitlines())] if rc == 0 else ["docker inspect failed"]
        rows += ["image " + line for line in sorted(run(["docker", "image", "ls", "-aq", "--no-trunc"])[1].split())]
        out = run("for c in $(docker ps -q); do docker exec \"$c\" sh -c 'cat \"$PGDATA/postgresql.auto.conf\"' "
                  "2>/dev/null | sed \"s/^/$c /\"; done")[1]
        rows += ["container-pg " + line for line in out.splitlines()]
    for root, _dirs, files in os.walk("/var/lib/postgresql"):
        if "postgresql.auto.conf" in files:
            with open(os.path.join(root, "postgresql.auto.conf"), "rb") as handle:
                rows.append(f"pg {root} {hashlib.sha256(handle.read()).hexdigest()}")
    return rows


def _containers():
    """{name: (running, restart_count, started_at)} of every container, {} without a running daemon."""
    if not docker_running():
        return {}
    rc, out = run("docker ps -aq | xargs -r docker inspect --format "
                  "'{{.Name}} {{.State.Running}} {{.RestartCount}} {{.State.StartedAt}}'")[:2]
    result = {}
    for line in out.splitlines() if rc == 0 else []:
        name, running, count, started = line.split()
        result[name.lstrip("/")] = (running == "true", int(count), started)
    return result


def _fstab_swaps():
    try:
        with open("/etc/fstab", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    fields = [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [row[0] for row in fields if len(row) >= 3 and row[2] == "swap"]


def _sysctl_problems():
    files = ["/etc/sysctl.conf"] + sorted(
        os.path.join("/etc/sysctl.d", name) for name in (os.listdir("/etc/sysctl.d") if os.path.isdir("/etc/sysctl.d") else [])
        if name.endswith(".conf"))
    problems = []
    for path in files:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if not text or text[0] in "#;":
                    continue
                match = re.match(r"^-?\s*([\w.*/-]+)\s*=\s*\S.*$", text)
                key = match.group(1) if match else None
                if not match or ("*" not in key and not os.path.exists("/proc/sys/" + key.replace(".", "/"))):
                    problems.append(f"{path}:{number}: {text}")
    return problems


def checks(before=None):
    """{name: [ok, detail]} of the host's consistency; the optional ones only where they apply (see docstring)."""
    result = {}
    rc, out, err = run(["logrotate", "-d", "/etc/logrotate.conf"])
    bad = [line for line in (out + err).splitlines() if line.startswith("error:") or "duplicate log entry" in line]
    result["logrotate -d /etc/logrotate.conf"] = [rc == 0 and not bad, f"rc {rc}; " + "; ".join(bad[:5])]
    if shutil.which("nginx"):
        rc, out, err = run(["nginx", "-t"])
        result["nginx -t"] = [rc == 0, (out + err).strip()[-300:]]
    if shutil.which("docker"):
        rc, out, err = run(["docker", "info", "--format", "{{.ServerVersion}}"])
        result["docker info"] = [rc == 0, (out + err).strip()[-300:]]
        containers = _containers()
        steady = {name: row for name, row in (before or {}).get("_containers", {}).items() if row[0] and row[1] == 0}
        moved = [name for name, row in steady.items() if containers.get(name, (False, 0, ""))[0::2] != (True, row[2])]
        result["no running container restarted"] = [not moved, ", ".join(moved)]
        result["_containers"] = containers
    if os.path.exists("/etc/docker/daemon.json"):
        try:
            with open("/etc/docker/daemon.json", encoding="utf-8") as handle:
                json.load(handle)
            result["/etc/docker/daemon.json parses"] = [True, ""]
        except (OSError, ValueError) as error:
            result["/etc/docker/daemon.json parses"] = [False, str(error)]
    active = set(run(["swapon", "--show=NAME", "--noheadings"])[1].split())
    missing = [path for path in _fstab_swaps() if path not in active]
    result["every fstab swap entry is active"] = [not missing, ", ".join(missing)]
    problems = _sysctl_problems()
    result["sysctl files parse"] = [not problems, "; ".join(problems[:5])]
    return result


def paste(items):
    results = []
    for item in items:
        start = time.monotonic()
        rc, out, err = run(item["command"])
        results.append({"id": item["id"], "rc": rc, "stdout": out[-2000:], "stderr": err[-2000:],
                        "seconds": round(time.monotonic() - start, 2)})
    return results


def refused_on_purpose(result):
    return result["rc"] != 0 and "exists: not overwritten" in result["stdout"] + result["stderr"]


def main(argv):
    if len(argv) == 3 and argv[1] == "--plan":
        with open(argv[2], encoding="utf-8") as handle:
            print(json.dumps(plan(json.load(handle)), indent=2))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    with open(argv[1], encoding="utf-8") as handle:
        decided = plan(json.load(handle))
    before = checks()
    first = paste(decided["paste"])
    after = checks(before)
    state = fingerprint()
    second = paste(decided["paste"])
    after_again = checks(before)
    changed = sorted(set(state) ^ set(fingerprint()))
    problems = [f"{row['id']}: exited {row['rc']} the first time: {(row['stdout'] + row['stderr']).strip()[-500:]}"
                for row in first if row["rc"] != 0]
    problems += [f"{row['id']}: exited {row['rc']} when pasted again: {(row['stdout'] + row['stderr']).strip()[-500:]}"
                 for row in second if row["rc"] != 0 and not refused_on_purpose(row)]
    problems += [f"pasting again changed: {line}" for line in changed[:20]]
    for label, result in (("after pasting", after), ("after pasting again", after_again)):
        for name, (ok, detail) in ((key, value) for key, value in result.items() if not key.startswith("_")):
            if ok:
                continue
            if name.startswith("logrotate") or before.get(name, [False])[0]:
                problems.append(f"{name} fails {label}: {detail}")
    for row, again in zip(first, second):
        row["rc_again"], row["stdout_again"] = again["rc"], again["stdout"]
        row["again"] = "refused on purpose: exists, not overwritten" if refused_on_purpose(again) else (
            "ok" if again["rc"] == 0 else "failed")
    print(json.dumps({
        "pasted": first, "skipped": decided["skip"],
        "checks": {name: {"before": before.get(name, [None])[0], "after": after[name][0], "after_again": after_again[name][0],
                          "detail": after_again[name][1]} for name in after if not name.startswith("_")},
        "logrotate_considered": re.findall(r"^considering log (\S+)", run(["logrotate", "-d", "/etc/logrotate.conf"])[2], re.MULTILINE),
        "changed_by_second_paste": changed, "problems": problems, "seconds": round(time.monotonic() - started, 1)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
