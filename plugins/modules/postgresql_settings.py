#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgresql_settings
short_description: Apply PostgreSQL settings with ALTER SYSTEM, reload, restart only when allowed, and revert
version_added: 0.1.0
description:
  - Writes O(settings) to C(postgresql.auto.conf) with C(ALTER SYSTEM) and reloads the server, the host's cluster
    run by systemd with C(systemctl reload postgresql@VERSION-NAME) (its unit's C(ExecReload), in the unit's
    journal), any other server (a container, a login over TCP, a host without systemd, a cluster started outside
    its unit) with C(pg_reload_conf()). Settings that need a restart are then reported as pending
    (C(pg_settings.pending_restart)).
  - Before anything is written, every name and value is checked against the server's own C(pg_settings) row (the
    name exists, the value parses with its unit, lies within C(min_val) and C(max_val) or is one of C(enumvals)),
    the memory model of the settings after the change (the one the audit uses) against O(memory_budget), and
    C(huge_pages=on) against the huge pages the kernel has. A refusal changes nothing.
  - Before the first change the previous C(postgresql.auto.conf) values are saved in a state file per instance;
    O(state=reverted) restores them exactly (C(ALTER SYSTEM RESET) for a setting that was not there).
  - O(restart=if_needed) restarts the server once, only when a setting is pending, and only when at most
    O(restart_max_connections) client connections are open (unless O(restart_force=true)).
author:
  - hostcare.vps contributors (@hostcare)
options:
  state:
    description:
      - V(present) applies O(settings).
      - V(reverted) restores the values saved before the first change and removes the state file.
    type: str
    choices: [present, reverted]
    default: present
  settings:
    description:
      - Setting names and values (a dict), for example V(2GB) for C(shared_buffers), V(16MB) for C(work_mem), V(off) for C(jit).
      - Integers without a unit are in the setting's unit, as in C(postgresql.conf).
      - Required with O(state=present).
    type: dict
  reload:
    description:
      - Reload after writing, so that settings that do not need a restart apply now (C(systemctl reload) of the
        cluster's unit when systemd runs it, else C(pg_reload_conf()); see RV(reload_method)).
    type: bool
    default: true
  restart:
    description:
      - V(never) never restarts; settings that need one are reported in RV(pending_restart).
      - V(if_needed) restarts once when a setting is pending (the host's cluster with C(systemctl restart) of its
        unit when systemd runs it, else C(pg_ctlcluster); a container with C(docker restart)) and waits (bounded)
        until it answers; see RV(restart_method).
    type: str
    choices: [never, if_needed]
    default: never
  restart_max_connections:
    description: With O(restart=if_needed), refuse to restart while more client connections than this are open (0 to 262143).
    type: raw
    default: 10
  restart_force:
    description: Restart even when more than O(restart_max_connections) client connections are open.
    type: bool
    default: false
  restart_timeout:
    description: Seconds to wait for the restart and for the server to answer again, 10 to 3600.
    type: raw
    default: 120
  cluster:
    description:
      - The host's cluster as C(VERSION/NAME) (for example V(15/main)), for the restart of O(method=local_socket).
      - Default is the server's C(cluster_name) (Debian and Ubuntu set it).
    type: str
  memory_budget:
    description:
      - Memory PostgreSQL may use (bytes or a size such as V(6GB)). Settings whose memory model (shared_buffers +
        max_connections x work_mem x 1.5 + autovacuum workers x their memory) is above it are refused.
      - Default is the target's RAM (C(MemTotal)).
    type: raw
  instance:
    description:
      - Name of the state file (letters, digits, C(_), C(.), C(-)).
      - Default C(native-VERSION-CLUSTER), C(docker-CONTAINER) or C(tcp-HOST-PORT).
    type: str
  state_dir:
    description: Directory of the state files.
    type: path
    default: /var/lib/hostcare/postgresql_tune
  method:
    description:
      - How to reach PostgreSQL, as in M(hostcare.vps.pg_settings_facts).
      - V(local_socket) runs C(psql) as O(os_user) through the local socket; V(docker) runs C(psql) in O(container);
        V(tcp) logs in with O(host), O(port), O(user) and O(password), or O(uri); V(auto) picks one.
    type: str
    choices: [auto, local_socket, tcp, docker]
    default: auto
  os_user:
    description: OS user that runs C(psql) with O(method=local_socket).
    type: str
    default: postgres
  socket_dir:
    description: Directory of the Unix socket (default the client's).
    type: path
  host:
    description: Host of the server for O(method=tcp).
    type: str
  port:
    description: Port of the server, 1 to 65535.
    type: raw
    default: 5432
  user:
    description: Database user (a superuser, or one granted C(ALTER SYSTEM) and C(pg_read_all_settings)).
    type: str
  password:
    description: Password of O(user), passed in C(PGPASSWORD), never on a command line or in the output.
    type: str
  dbname:
    description: Database to connect to.
    type: str
    default: postgres
  uri:
    description: Connection URI; its password is handled like O(password).
    type: str
  container:
    description: Docker container running PostgreSQL, for O(method=docker).
    type: str
  docker_user:
    description: User that runs C(psql) inside the container.
    type: str
    default: postgres
  timeout:
    description: Seconds to wait for the connection and for each statement, 1 to 3600.
    type: raw
    default: 10
attributes:
  check_mode:
    support: full
    description: Runs every check and reports exactly what would change, the pending restarts and the restart.
  diff_mode:
    support: full
    description: Each setting current -> new, with reload or restart.
notes:
  - Needs root for O(method=local_socket) (to run C(psql) as O(os_user)) and for the state file.
  - C(ALTER SYSTEM) does not override settings given on the server's command line (a container's C(-c)
    arguments); those are refused with a message.
seealso:
  - module: hostcare.vps.pg_settings_facts
"""

EXAMPLES = r"""
- name: Apply two settings, reload, report what needs a restart
  hostcare.vps.postgresql_settings:
    settings:
      work_mem: 16MB
      shared_buffers: 2GB

- name: Same in a container, restarting it once if a setting is pending
  hostcare.vps.postgresql_settings:
    container: app-db
    settings:
      shared_buffers: 1GB
    restart: if_needed

- name: Put the previous values back
  hostcare.vps.postgresql_settings:
    state: reverted
    restart: if_needed
"""

RETURN = r"""
changes:
  description: The settings changed (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{name: shared_buffers, current: 128MB, new: 2GB, apply: restart}]
pending_restart:
  description: Settings waiting for a restart after the run (predicted in check mode).
  returned: always
  type: list
  elements: str
  sample: [shared_buffers]
restart_needed:
  description: Whether a setting is waiting for a restart before the restart decision.
  returned: always
  type: bool
restarted:
  description: Whether the server was (or in check mode would be) restarted.
  returned: always
  type: bool
restart_reason:
  description: Why it was or was not restarted.
  returned: always
  type: str
postmaster_start_time:
  description: C(pg_postmaster_start_time()) before and after the run.
  returned: always
  type: dict
  sample: {before: "2026-12-06 20:00:01+00", after: "2026-12-06 20:00:01+00"}
memory_model:
  description: The memory model of the settings after the change and the budget; null when not computed.
  returned: always
  type: dict
  sample: {total_bytes: 3221225472, budget_bytes: 8589934592}
state_file:
  description: The state file with the values before the first change.
  returned: always
  type: str
  sample: /var/lib/hostcare/postgresql_tune/native-15-main.json
instance:
  description: The instance name (the state file's name).
  returned: always
  type: str
  sample: native-15-main
warnings_shm:
  description: A warning when the container has Docker's default 64 MB C(/dev/shm); else null.
  returned: always
  type: str
reload_method:
  description:
    - How the configuration was (in check mode would be) reloaded after the change.
    - V(systemd) is C(systemctl reload) of RV(systemd_unit); V(pg_reload_conf) is C(SELECT pg_reload_conf()) (a
      container, a login over TCP, a host without systemd, a cluster outside its unit, or when the unit's reload
      failed, with a warning).
    - Null when nothing was reloaded (nothing changed, or O(reload=false)).
  returned: always
  type: str
  sample: systemd
restart_method:
  description:
    - How the server was (in check mode would be) restarted, V(systemd) (C(systemctl restart) of RV(systemd_unit)),
      V(pg_ctlcluster) or V(docker) (C(docker restart)); null when it was not restarted.
  returned: always
  type: str
  sample: systemd
systemd_unit:
  description: The systemd unit running the host's cluster (C(postgresql@VERSION-NAME)) when systemd runs it; else null.
  returned: always
  type: str
  sample: postgresql@15-main
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils import _pg_settings as plan
from ansible_collections.hostcare.vps.plugins.module_utils import _pg_settings_run as run
from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._postgres_connection import CONNECTION_SPEC, redact, resolve_connection, secrets_of
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present", "reverted"], "default": "present"},
    "settings": {"type": "dict"},
    "reload": {"type": "bool", "default": True},
    "restart": {"type": "str", "choices": ["never", "if_needed"], "default": "never"},
    "restart_max_connections": {"type": "raw", "default": 10},
    "restart_force": {"type": "bool", "default": False},
    "restart_timeout": {"type": "raw", "default": 120},
    "cluster": {"type": "str"},
    "memory_budget": {"type": "raw"},
    "instance": {"type": "str"},
    "state_dir": {"type": "path", "default": "/var/lib/hostcare/postgresql_tune"},
    **CONNECTION_SPEC,
}


def check_options(params):
    """The module's own options checked (the connection is checked by resolve_connection)."""
    if params["state"] == "present" and params["settings"] is None:
        raise _validate.OptionError("settings: required with state=present")
    if params["state"] == "reverted" and params["settings"]:
        raise _validate.OptionError("settings: not used with state=reverted (the saved values are restored)")
    params["restart_max_connections"] = _validate.integer("restart_max_connections", params["restart_max_connections"],
                                                          minimum=0, maximum=262143)
    params["restart_timeout"] = _validate.integer("restart_timeout", params["restart_timeout"], minimum=10,
                                                  maximum=3600, unit="seconds")
    _validate.absolute_path("state_dir", params["state_dir"])
    plan.check_instance(params["instance"])
    if params["cluster"] is not None and not _cluster_ok(params["cluster"]):
        raise _validate.OptionError(f"cluster: {params['cluster']!r} is not VERSION/NAME, e.g. 15/main")
    budget = None
    if params["memory_budget"] is not None:
        budget = _validate.size("memory_budget", params["memory_budget"], minimum=1)
    return budget


def _cluster_ok(value):
    version, slash, name = value.partition("/")
    return bool(slash) and version.isdigit() and plan.INSTANCE_RE.match(name) is not None


def _work(module, connection):
    params = module.params
    budget = check_options(params)
    environment = run.environment_for(connection)
    if params["restart"] == "if_needed" and connection["method"] == "tcp":
        plan.restart_decision("if_needed", ["?"], 0, 0, True, "tcp")  # raises: no restart over TCP
    document = run.read_server(connection, environment)
    rows, auto_conf, other_conf = document["settings"], document.get("auto_conf") or {}, document.get("other_conf") or {}
    instance = params["instance"] or plan.default_instance(connection, document.get("cluster_name"))
    state_file = os.path.join(params["state_dir"], f"{instance}.json")
    saved = run.load_state(state_file)
    model = None
    if params["state"] == "present":
        changes = plan.plan_changes(params["settings"], rows, auto_conf)
        memory = run.meminfo()
        if budget is None:
            budget = memory.get("MemTotal")
        model = plan.check_budget(rows, changes, budget)
        plan.check_huge_pages(rows, changes, memory)
    else:
        changes = plan.revert_changes(saved or {}, rows, auto_conf, other_conf)
    pending = plan.predict_pending(rows, changes, other_conf)
    do_restart, reason = plan.restart_decision(params["restart"], pending, int(document.get("connections") or 0),
                                               params["restart_max_connections"], params["restart_force"],
                                               connection["method"])
    control = run.control_for(connection, document, params["cluster"], environment)
    if do_restart:
        run.restart_argv(connection, control, environment)  # refuse now if it cannot restart
    shm = run.shm_size(connection, environment)
    shm_warning = None
    if shm is not None and shm <= run.SHM_WARNING_BYTES:
        shm_warning = (f"container {connection['container']} has a {format_size(shm)} /dev/shm (Docker's default): "
                       f"parallel queries and hash joins can fail with 'could not resize shared memory segment'; "
                       f"give it more with shm_size (docker run --shm-size=1g, compose shm_size: 1g)")
        module.warn(shm_warning)
    result = {
        "changed": bool(changes) or do_restart or (params["state"] == "reverted" and saved is not None),
        "changes": [{key: change[key] for key in ("name", "current", "new", "apply")} for change in changes],
        "pending_restart": pending, "restart_needed": bool(pending), "restarted": do_restart,
        "restart_reason": reason, "instance": instance, "state_file": state_file, "warnings_shm": shm_warning,
        "postmaster_start_time": {"before": document.get("postmaster_start_time"),
                                  "after": document.get("postmaster_start_time")},
        "memory_model": None if model is None else {"total_bytes": model["total_bytes"], "budget_bytes": budget},
        "reload_method": control["reload"] if changes and params["reload"] else None,
        "restart_method": control["restart"] if do_restart else None,
        "systemd_unit": control["unit"],
    }
    if module._diff:
        before, after = plan.diff_text(changes, pending)
        result["diff"] = {"before": before, "after": after, "before_header": f"{instance} (postgresql.auto.conf)",
                          "after_header": f"{instance} (postgresql.auto.conf)"}
    if module.check_mode:
        return result

    if changes:
        if params["state"] == "present":
            run.save_state(state_file, instance, plan.state_entries(changes, auto_conf, saved or {}))
        _apply(connection, environment, changes, auto_conf, other_conf)
        if params["reload"]:
            result["reload_method"], warning = run.reload_server(connection, control, environment,
                                                                 2 * connection["timeout"] + 5)
            if warning:
                module.warn(warning)
            document = run.wait_for_reload(connection, environment, document.get("conf_load_time"))
        else:
            document = run.read_server(connection, environment)
    if params["state"] == "reverted" and saved is not None:
        os.unlink(state_file)
    pending = sorted(name for name, row in document["settings"].items() if row.get("pending_restart"))
    if do_restart and (pending or not params["reload"]):  # without a reload pending_restart is not updated yet
        document = run.restart(connection, document, control, environment, params["restart_timeout"])
        pending = sorted(name for name, row in document["settings"].items() if row.get("pending_restart"))
    elif do_restart:
        result["restarted"], result["restart_reason"] = False, "nothing pending after the reload"
        result["restart_method"] = None
        result["changed"] = bool(changes) or params["state"] == "reverted" and saved is not None
    result["pending_restart"] = pending
    result["postmaster_start_time"]["after"] = document.get("postmaster_start_time")
    return result


def _apply(connection, environment, changes, auto_conf, other_conf):
    """ALTER SYSTEM one statement at a time; on a failure put back what was written, then fail."""
    statements = plan.statements_for(changes)
    written = []
    try:
        for change, statement in zip(changes, statements):
            run.execute(connection, statement, environment)
            written.append(change["name"])
    except run.RunError as error:
        if written:
            restore = {name: auto_conf.get(name) for name in written}
            now = run.read_server(connection, environment)
            back = plan.revert_changes(restore, now["settings"], now.get("auto_conf") or {}, other_conf)
            for statement in plan.statements_for(back):
                run.execute(connection, statement, environment)
        raise run.RunError(f"{error}; nothing was left changed (the {len(written)} setting(s) written before were "
                           f"put back)") from None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    secrets = []
    try:
        connection = resolve_connection(module.params)
        secrets = secrets_of(connection)
        module.exit_json(**_work(module, connection))
    except (_validate.OptionError, run.RunError) as error:
        module.fail_json(msg=redact(str(error), secrets))
    except OSError as error:
        module.fail_json(msg=redact(f"{type(error).__name__}: {error}", secrets))


if __name__ == "__main__":
    main()
