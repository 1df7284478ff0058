# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The fix commands and role variables the audit's findings propose, in one place: swap files, journald and
logrotate drop-ins, psql, Docker. Every command is copy-pasteable shell (tests run ``bash -n`` on them), never
overwrites (conv=excl, test ! -e), and names exactly what it changes.

Pure functions, no I/O; imports nothing of the audit, so every area and the core can use it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._docker import DAEMON_JSON
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import render_entry, with_defaults
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB


def mib_arg(num_bytes):
    """A size argument for journalctl/btrfs in whole MiB: 524288000 -> '500M'."""
    return f"{max(1, num_bytes // MIB)}M"


def swapfile_command(path, size_bytes, fstype=None):
    """Copy-pasteable commands creating and enabling a swap file; None where a swap file cannot work (ZFS).

    Never overwrites: dd uses conv=excl, the btrfs variant tests for the file first.
    """
    if fstype == "zfs":
        return None
    size_mib = max(1, -(-size_bytes // MIB))
    if fstype == "btrfs":
        create = (f"test ! -e {path} && sudo btrfs filesystem mkswapfile --size {size_mib}m {path}")
    else:
        create = (f"sudo dd if=/dev/zero of={path} bs=1M count={size_mib} conv=excl status=progress && \\\n"
                  f"  sudo chmod 600 {path} && sudo mkswap {path}")
    return (f"{create} && \\\n"
            f"  sudo swapon {path} && \\\n"
            f"  echo '{path} none swap sw,nofail 0 0' | sudo tee -a /etc/fstab")


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(item) for item in value) + "]"
    text = str(value)
    return text if re.match(r"^[A-Za-z0-9_./*-]+$", text) and text not in ("true", "false", "null") else json.dumps(text)


def role_vars_lines(role, role_vars):
    """Commented YAML lines showing the variables of ``role`` that apply a fix (values: scalars, lists of
    scalars, or lists of flat dicts)."""
    lines = [f"# or let the role {role} do it, with these variables:"]
    for key, value in role_vars.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            lines.append(f"#   {key}:")
            for item in value:
                for index, (name, field) in enumerate(item.items()):
                    lines.append(f"#     {'- ' if index == 0 else '  '}{name}: {_yaml_scalar(field)}")
        else:
            lines.append(f"#   {key}: {_yaml_scalar(value)}")
    return lines


def logrotate_entry_name(directory):
    """A hostcare.vps.logrotate entry name for the logs of ``directory`` (/var/www/app/log -> var-www-app-log)."""
    return (re.sub(r"[^A-Za-z0-9]+", "-", directory).strip("-") or "root")[:64].rstrip("-")


# The one rotation the audit proposes for a log nobody rotates: the by-hand command writes exactly the file the role
# would write from the same entry (render_entry), so the two cannot disagree.
PROPOSED_FREQUENCY = "daily"
PROPOSED_ROTATE = 14


def proposed_logrotate_entry(directory, paths, max_size_bytes):
    """The hostcare.vps.logrotate entry proposed for ``paths`` (one directory): named files, never a glob (a glob
    could take files another entry already rotates, and logrotate skips a whole file that names a log twice)."""
    return {"name": logrotate_entry_name(directory), "paths": list(paths), "frequency": PROPOSED_FREQUENCY,
            "rotate": PROPOSED_ROTATE, "maxsize": mib_arg(max_size_bytes), "compress": True, "delaycompress": True,
            "missingok": True, "notifempty": True, "copytruncate": True}


def logrotate_role_vars(entries):
    """The role variables applying ``entries`` (proposed_logrotate_entry)."""
    return {"hostcare_logrotate_entries": [dict(entry) for entry in entries]}


def logrotate_dropin_command(entry, config_dir="/etc/logrotate.d", main_config="/etc/logrotate.conf"):
    """A command installing ``entry`` as <config_dir>/<name>, safe to paste: it never overwrites a file, writes the
    drop-in to a temporary directory first, runs `logrotate -d` over the whole configuration with it, and installs it
    only when that run is clean (no error: no duplicate entry, nothing skipped)."""
    name = entry["name"]
    dest = f"{config_dir}/{name}"
    body = render_entry(with_defaults(entry)).rstrip("\n")
    return "\n".join([
        f"# {dest}: written to a temporary directory, checked with the whole configuration, installed only if clean",
        "(set -e",
        f" if sudo test -e {dest}; then echo '{dest} exists: not overwritten'; exit 1; fi",
        " tmp=$(sudo mktemp -d)",
        f" trap 'sudo rm -f \"$tmp/{name}\" \"$tmp/check.conf\"; sudo rmdir \"$tmp\"' EXIT",
        f" sudo tee \"$tmp/{name}\" >/dev/null <<'EOF'",
        body,
        "EOF",
        f" printf 'include {main_config}\\ninclude %s\\n' \"$tmp/{name}\" | sudo tee \"$tmp/check.conf\" >/dev/null",
        " rc=0; out=$(sudo logrotate -d \"$tmp/check.conf\" 2>&1) || rc=$?",
        " if [ \"$rc\" -ne 0 ] || printf '%s\\n' \"$out\" | grep -q '^error:'; then",
        f"   echo 'NOT installed: logrotate -d reports:'; printf '%s\\n' \"$out\" | grep '^error:' | sed \"s#$tmp/#{config_dir}/#\"; exit 1",
        " fi",
        f" sudo install -m 0644 -o root -g root \"$tmp/{name}\" {dest}",
        f" echo 'installed {dest}')",
    ])


# --------------------------------------------------------------------------------------------- PostgreSQL


DEFAULT_PORT = 5432


def pg_size(num_bytes):
    """A memory value as PostgreSQL takes it, in whole MB (GB when exact): 1073741824 -> '1GB', 983 MiB -> '983MB'."""
    num_bytes = int(num_bytes)
    if num_bytes >= GIB and num_bytes % GIB == 0:
        return f"{num_bytes // GIB}GB"
    return f"{max(1, num_bytes // MIB)}MB"


def psql_command(connection):
    """The psql invocation reaching the instance as it was audited (no password: psql asks, or use ~/.pgpass)."""
    method = connection.get("method")
    options = []
    if connection.get("host"):
        options += ["-h", str(connection["host"])]
    elif connection.get("socket_dir"):
        options += ["-h", str(connection["socket_dir"])]
    port = connection.get("port")
    if port not in (None, "", DEFAULT_PORT, str(DEFAULT_PORT)):
        options += ["-p", str(port)]
    if connection.get("user"):
        options += ["-U", str(connection["user"])]
    if connection.get("dbname") and connection.get("dbname") != "postgres":
        options += ["-d", str(connection["dbname"])]
    if method == "docker" and connection.get("container"):
        user = connection.get("docker_user") or "postgres"
        base = ["docker", "exec", "-i", "-u", str(user), str(connection["container"]), "psql", "-X"]
    elif method == "local_socket":
        base = ["sudo", "-u", str(connection.get("os_user") or "postgres"), "psql", "-X"]
    else:
        base = ["psql", "-X"]
    return " ".join(shlex.quote(word) for word in base + options)


def sql_command(connection, statements):
    """psql running ``statements`` from a here-document (names taken from the facts are quoted literals)."""
    return (f"{psql_command(connection)} -v ON_ERROR_STOP=1 <<'SQL'\n" + "\n".join(statements) + "\nSQL")


def restart_command(connection):
    """How to restart the instance (a short outage)."""
    if connection.get("method") == "docker" and connection.get("container"):
        return f"docker restart {shlex.quote(str(connection['container']))}"
    if connection.get("method") == "local_socket":
        return ("sudo systemctl restart postgresql   # Debian/Ubuntu: every cluster; "
                "RHEL with PGDG packages: postgresql-<major>")
    return "# restart PostgreSQL where it runs (systemctl restart postgresql, or docker restart <container>)"


def quote_literal(text):
    return "'" + str(text).replace("'", "''") + "'"

# --------------------------------------------------------------------------------------------- Docker


IDS_PER_LINE = 4
"""Names or ids per line of a `docker image rm` / `docker container rm` command (continued with a backslash)."""


def command_lines(prefix, words):
    """`prefix a b c d \\` lines, IDS_PER_LINE words each, as one copy-pasteable command."""
    words = list(words)
    if len(words) <= IDS_PER_LINE:
        return f"{prefix} {' '.join(words)}"
    chunks = [" ".join(words[index:index + IDS_PER_LINE]) for index in range(0, len(words), IDS_PER_LINE)]
    return f"{prefix} \\\n  " + " \\\n  ".join(chunks)


def docker_log_size(num_bytes):
    """A log-opt size: whole megabytes with docker's unit letter, at least 1m."""
    return f"{max(1, int(num_bytes) // MIB)}m"


def docker_log_role_vars(max_size, max_file):
    """The hostcare.vps.logrotate variables that set the daemon's default log limit."""
    return {"hostcare_logrotate_docker_max_size": max_size, "hostcare_logrotate_docker_max_file": int(max_file)}


def daemon_json_check_command(path=DAEMON_JSON):
    """A read-only check of ``path``: `dockerd --validate` where dockerd has it (Docker 23+), else that it parses as
    JSON (Debian 12's docker.io 20.10 answers "unknown flag: --validate")."""
    return (f"if sudo dockerd --help 2>/dev/null | grep -q -- --validate; then sudo dockerd --validate --config-file {path}; "
            f"else sudo python3 -m json.tool {path} >/dev/null && echo '{path}: valid JSON (this dockerd has no --validate)'; fi")


def daemon_json_command(log_opts_source, max_size, max_file):
    """Commands setting the default log-opts in /etc/docker/daemon.json without losing other settings, safe to paste
    (twice too): the file is created only when absent, the copy of an existing one is taken once, the result is
    checked; the restart of dockerd that applies it is left to the user (a comment), for a quiet moment."""
    if log_opts_source == "absent":
        write = ("# only when the file does not exist yet:\n"
                 "(set -e\n"
                 f" if sudo test -e {DAEMON_JSON}; then echo '{DAEMON_JSON} exists: not overwritten'; exit 1; fi\n"
                 f" sudo tee {DAEMON_JSON} >/dev/null <<'EOF'\n"
                 "{\n"
                 f"  \"log-opts\": {{\"max-size\": \"{max_size}\", \"max-file\": \"{max_file}\"}}\n"
                 "}\n"
                 "EOF\n")
    else:
        write = ("# keep a copy (the first one: pasting again keeps it), then add the two options to the existing settings:\n"
                 "(set -e\n"
                 f" sudo test -e {DAEMON_JSON}.hostcare-bak || sudo cp -p {DAEMON_JSON} {DAEMON_JSON}.hostcare-bak\n"
                 " sudo python3 - <<'EOF'\n"
                 "import json\n"
                 f"path = \"{DAEMON_JSON}\"\n"
                 "with open(path) as handle:\n"
                 "    config = json.load(handle)\n"
                 "options = config.setdefault(\"log-opts\", {})\n"
                 f"options.setdefault(\"max-size\", \"{max_size}\")\n"
                 f"options.setdefault(\"max-file\", \"{max_file}\")\n"
                 "with open(path, \"w\") as handle:\n"
                 "    json.dump(config, handle, indent=2)\n"
                 "    handle.write(\"\\n\")\n"
                 "EOF\n")
    return (f"{write} {daemon_json_check_command()})\n"
            "# dockerd reads it at start. A restart stops and starts every container unless \"live-restore\": true\n"
            "# is set (docker info | grep -i 'live restore'): do it yourself, in a quiet moment:\n"
            "#   sudo systemctl restart docker")

# --------------------------------------------------------------------------------------------- workload


def docker_memory_arg(num_bytes):
    """A docker --memory value in whole MiB, rounded up: 629145601 -> '601m'."""
    return f"{max(1, -(-num_bytes // MIB))}m"


def docker_memory_limit_command(name, limit_bytes):
    """`docker update` capping a running container's memory (and its swap: --memory-swap equal to --memory), with
    the compose equivalent; applied live, the container is not restarted."""
    size = docker_memory_arg(limit_bytes)
    return (f"docker update --memory {size} --memory-swap {size} {shlex.quote(name)}\n"
            f"# and in its compose file, so that the next deploy keeps it:\n#   mem_limit: {size}\n#   memswap_limit: {size}")


def docker_diagnose_command(name):
    """Read-only commands showing why a container stops."""
    quoted = shlex.quote(name)
    return (f"docker logs --tail 100 {quoted}\n"
            f"docker inspect --format '{{{{.State.ExitCode}}}} OOMKilled={{{{.State.OOMKilled}}}} "
            f"restarts={{{{.RestartCount}}}} {{{{.State.FinishedAt}}}}' {quoted}")


def systemd_diagnose_command(unit):
    """Read-only commands showing why a systemd unit stops."""
    quoted = shlex.quote(unit)
    return f"systemctl status --no-pager {quoted}\njournalctl -u {quoted} -n 100 --no-pager"


def docker_shm_command(name, shm_bytes):
    """How to give a container a bigger /dev/shm: it is fixed at creation, so compose's shm_size and a recreate."""
    size = docker_memory_arg(shm_bytes)
    return (f"# /dev/shm is fixed when the container is created: set it in the compose file of {shlex.quote(name)}\n"
            f"#   shm_size: {size}\n# then recreate it in a maintenance window (a short outage): docker compose up -d")
