#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_settings_facts
short_description: Gather the PostgreSQL settings, connections and sizes that tuning needs
version_added: 0.1.0
description:
  - Reads, in one read-only query, the server version, the rows of C(pg_settings) that tuning needs (every parameter
    PGTune sets, the ones postgresqltuner checks, every C(enable_*) planner switch and C(*_cost) planner cost),
    connection slots and the client connections in use by state and by database and user, database sizes and the
    shared buffer cache hit ratio; and measures the data directory on disk.
  - Returns them as the C(hostcare_postgres) fact. Memory settings are also given in bytes (C(val_in_bytes)), in
    the shape C(community.postgresql.postgresql_info) uses for settings.
  - Connects in one of three ways, see O(method). Uses psycopg 3 (else psycopg2) when the target's Python has it,
    else C(psql). The SQL is fixed; no option value is ever put into it.
  - When PostgreSQL is absent, down, hangs or refuses the login, the module still succeeds with
    RV(ansible_facts.hostcare_postgres.available=false) and the reason (the password never appears in it),
    unless O(fail_on_unavailable=true).
author:
  - hostcare.vps contributors (@hostcare)
options:
  method:
    description:
      - How to reach PostgreSQL.
      - V(local_socket) runs C(psql) on the target through the local Unix socket as the OS user O(os_user) (peer
        authentication). As root it switches user with C(runuser) (or C(su)); when the module already runs as
        O(os_user) (C(become_user)) it uses psycopg if installed.
      - V(tcp) connects with O(host), O(port), O(user), O(password) and O(dbname), or with O(uri).
      - V(docker) runs C(psql) inside the container O(container) with C(docker exec), as O(docker_user), through
        the container's local socket (or O(host) and O(port) as seen inside the container).
      - V(auto) picks V(docker) when O(container) is set, V(tcp) when O(host) or O(uri) is set, else V(local_socket).
    type: str
    choices: [auto, local_socket, tcp, docker]
    default: auto
  os_user:
    description: OS user that runs C(psql) with O(method=local_socket); also the database user unless O(user) is set.
    type: str
    default: postgres
  socket_dir:
    description:
      - Directory of the Unix socket, for O(method=local_socket) and O(method=docker).
      - Default is the client's built-in one (V(/var/run/postgresql) on Debian and Ubuntu).
      - An absolute, normalised path.
    type: path
  host:
    description: Host name or IP address of the server, for O(method=tcp) (or inside the container with O(method=docker)).
    type: str
  port:
    description:
      - Port of the server (also selects the socket file with a Unix socket). Ignored with O(uri).
      - A whole number from 1 to 65535.
    type: raw
    default: 5432
  user:
    description: Database user. Defaults to O(os_user) with O(method=local_socket), else to the client's default.
    type: str
  password:
    description: Password of O(user). Passed to C(psql) through C(PGPASSWORD), never on a command line.
    type: str
  dbname:
    description: Database to connect to. Ignored with O(uri).
    type: str
    default: postgres
  uri:
    description:
      - Connection URI, for example C(postgresql://app:secret@db.internal:5432/app?sslmode=require).
      - The password in it is taken out and passed like O(password). Cannot be combined with O(host) or O(user).
    type: str
  container:
    description: Name or id of the Docker container running PostgreSQL, for O(method=docker).
    type: str
  docker_user:
    description: User that runs C(psql) inside the container (C(docker exec --user)).
    type: str
    default: postgres
  timeout:
    description:
      - Seconds to wait for the connection, and again for the query. A server that does not answer gives
        RV(ansible_facts.hostcare_postgres.reason_code=timeout) after at most twice this plus 5 seconds.
      - Also the time budget for measuring the data directory.
      - A whole number of seconds from 1 to 3600.
    type: raw
    default: 10
  fail_on_unavailable:
    description: Fail the task when PostgreSQL cannot be queried, instead of returning the facts with the reason.
    type: bool
    default: false
extends_documentation_fragment:
  - hostcare.vps._attributes.facts
notes:
  - Linux only. The session is read-only (C(default_transaction_read_only)), with C(statement_timeout) set to O(timeout)
    and C(search_path) set to C(pg_catalog), all as startup options; connection poolers such as PgBouncer refuse
    those, so connect to PostgreSQL itself.
  - Without superuser or C(pg_read_all_settings) the data directory is hidden; without C(pg_read_all_stats) the
    state of other users' sessions is V(unknown).
  - The data directory is measured on the target only when its C(global/pg_control) carries the server's system
    identifier, so a same-named directory of another cluster (for example behind a published container port) is
    never measured by mistake. Symlinked C(pg_wal) and tablespaces are not included.
  - Written for PostgreSQL 10 and newer (tested with 15 and 17); older servers report
    RV(ansible_facts.hostcare_postgres.version.major) as V(null).
seealso:
  - name: pg_settings
    description: The meaning of each column of a setting.
    link: https://www.postgresql.org/docs/current/view-pg-settings.html
  - module: community.postgresql.postgresql_info
"""

EXAMPLES = r"""
- name: Gather PostgreSQL facts through the local socket as the postgres OS user
  become: true
  hostcare.vps.pg_settings_facts:

- name: Gather them from PostgreSQL in a Docker container
  become: true
  hostcare.vps.pg_settings_facts:
    container: app-db-1

- name: Gather them over TCP, failing when the server cannot be reached
  hostcare.vps.pg_settings_facts:
    host: 127.0.0.1
    user: monitor
    password: "{{ vault_pg_monitor_password }}"
    dbname: app
    fail_on_unavailable: true

- name: Show shared_buffers
  ansible.builtin.debug:
    msg: "shared_buffers = {{ ansible_facts.hostcare_postgres.settings.shared_buffers.pretty_val }}"
  when: ansible_facts.hostcare_postgres.available

- name: Say why PostgreSQL could not be read
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hostcare_postgres.reason_code }}: {{ ansible_facts.hostcare_postgres.reason }}"
  when: not ansible_facts.hostcare_postgres.available
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    hostcare_postgres:
      description: PostgreSQL settings, connections and sizes. Every value but the first five is V(null) when unavailable.
      returned: always
      type: dict
      contains:
        available:
          description: Whether the server answered the query.
          returned: always
          type: bool
          sample: true
        reason:
          description: Why it is not available, with the client's message (secrets masked); V(null) when available.
          returned: always
          type: str
          sample: 'authentication failed: password authentication failed for user "app"'
        reason_code:
          description: The kind of failure; V(null) when available.
          returned: always
          type: str
          choices: [auth_failed, password_missing, no_hba_entry, database_missing, role_missing, too_many_connections,
                    not_ready, pooler, timeout, host_unknown, container_missing, container_stopped, docker_denied,
                    docker_down, docker_user_missing, psql_missing, not_running, ssl, permission_denied, docker_missing,
                    os_user_missing, os_user_switch, unexpected_output, error]
          sample: auth_failed
        method:
          description: How the module connected (O(method) after V(auto) was resolved).
          returned: always
          type: str
          choices: [local_socket, tcp, docker]
          sample: local_socket
        client:
          description: What ran the query; V(null) when nothing could run it.
          returned: always
          type: str
          choices: [psycopg, psycopg2, psql]
          sample: psql
        version:
          description: Server version.
          returned: always
          type: dict
          contains:
            num:
              description: C(server_version_num).
              returned: always
              type: int
              sample: 150018
            major:
              description: Major version; V(null) before PostgreSQL 10.
              returned: always
              type: int
              sample: 15
            minor:
              description: Minor version; V(null) before PostgreSQL 10.
              returned: always
              type: int
              sample: 18
            server_version:
              description: C(server_version) as the server shows it.
              returned: always
              type: str
              sample: 15.18 (Debian 15.18-0+deb12u1)
            full:
              description: C(version()).
              returned: always
              type: str
              sample: PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit
        in_recovery:
          description: Whether the server is a standby (C(pg_is_in_recovery())).
          returned: always
          type: bool
          sample: false
        settings:
          description:
            - The C(pg_settings) rows tuning needs, by name. A setting the server version lacks (for example
              C(io_method) before 18) is absent; so is C(data_directory) for users who may not see it.
          returned: always
          type: dict
          contains:
            setting_name:
              description: One key per setting, for example C(shared_buffers); all have these keys.
              returned: always
              type: dict
              contains:
                setting:
                  description: Current value in the setting's unit (C(pg_settings.setting)).
                  returned: always
                  type: str
                  sample: "16384"
                unit:
                  description: Implicit unit (V(8kB), V(kB), V(MB), V(B), V(ms), V(s), V(min)); V(null) for none.
                  returned: always
                  type: str
                  sample: 8kB
                val_in_bytes:
                  description: The value in bytes for memory settings; V(null) for other settings and for V(-1) (use the default or another setting).
                  returned: always
                  type: int
                  sample: 134217728
                pretty_val:
                  description: The value as C(SHOW) prints it.
                  returned: always
                  type: str
                  sample: 128MB
                vartype:
                  description: V(bool), V(enum), V(integer), V(real) or V(string).
                  returned: always
                  type: str
                  sample: integer
                context:
                  description: What it takes to change it (V(postmaster) means a restart, V(sighup) a reload, V(user) a session).
                  returned: always
                  type: str
                  sample: postmaster
                source:
                  description: Where the current value comes from (V(default), V(configuration file), V(command line)...).
                  returned: always
                  type: str
                  sample: configuration file
                sourcefile:
                  description: File that set it; V(null) unless a superuser or C(pg_read_all_settings) member asks.
                  returned: always
                  type: str
                  sample: /etc/postgresql/15/main/postgresql.conf
                boot_val:
                  description: Value at server start when nothing sets it.
                  returned: always
                  type: str
                  sample: "1024"
                reset_val:
                  description: Value C(RESET) would restore.
                  returned: always
                  type: str
                  sample: "16384"
                min_val:
                  description: Smallest allowed value; V(null) for non-numeric settings.
                  returned: always
                  type: str
                  sample: "16"
                max_val:
                  description: Largest allowed value; V(null) for non-numeric settings.
                  returned: always
                  type: str
                  sample: "1073741823"
                pending_restart:
                  description: Changed in the configuration file, waiting for a restart.
                  returned: always
                  type: bool
                  sample: false
        pending_restart_settings:
          description: Names of the settings waiting for a restart.
          returned: always
          type: list
          elements: str
          sample: [shared_buffers]
        connections:
          description: Connection slots and client connections (background processes and this query's own excluded).
          returned: always
          type: dict
          contains:
            max:
              description: C(max_connections).
              returned: always
              type: int
              sample: 100
            superuser_reserved:
              description: C(superuser_reserved_connections).
              returned: always
              type: int
              sample: 3
            reserved:
              description: C(reserved_connections) (PostgreSQL 16 and newer, else V(null)).
              returned: always
              type: int
              sample: 0
            total:
              description: Client connections in use.
              returned: always
              type: int
              sample: 12
            in_use_percent:
              description: RV(ansible_facts.hostcare_postgres.connections.total) of RV(ansible_facts.hostcare_postgres.connections.max), one decimal.
              returned: always
              type: float
              sample: 12.0
            by_state:
              description:
                - Connections by C(pg_stat_activity.state), spaces and brackets turned into underscores. The six
                  states are always present; V(unknown) only appears for other users' sessions whose state is hidden.
              returned: always
              type: dict
              sample: {active: 1, idle: 10, idle_in_transaction: 1, idle_in_transaction_aborted: 0,
                       fastpath_function_call: 0, disabled: 0}
            by_database_user:
              description: Connections by database and user, most first.
              returned: always
              type: list
              elements: dict
              contains:
                database:
                  description: Database name.
                  returned: always
                  type: str
                  sample: app_production
                user:
                  description: User name.
                  returned: always
                  type: str
                  sample: app
                count:
                  description: Connections.
                  returned: always
                  type: int
                  sample: 10
            average_age_seconds:
              description: Average time since the connections were opened; V(null) when none is visible.
              returned: always
              type: float
              sample: 3612.4
        databases:
          description: Every database with its size, sorted by name.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Database name.
              returned: always
              type: str
              sample: app_production
            size_bytes:
              description: C(pg_database_size()); V(null) when the user may not connect to it.
              returned: always
              type: int
              sample: 7918111
        databases_total_bytes:
          description: Sum of the database sizes; V(null) when one of them is unknown.
          returned: always
          type: int
          sample: 30448184
        data_directory:
          description: The data directory and its disk usage.
          returned: always
          type: dict
          contains:
            path:
              description: C(data_directory); V(null) when hidden from the user.
              returned: always
              type: str
              sample: /var/lib/postgresql/15/main
            size_bytes:
              description: Disk usage like C(du -s -x) (allocated blocks, hard links once); V(null) when not measured.
              returned: always
              type: int
              sample: 42577920
            reason:
              description: Why RV(ansible_facts.hostcare_postgres.data_directory.size_bytes) is V(null); else V(null).
              returned: always
              type: str
              sample: data_directory is only visible to superusers and members of pg_read_all_settings
        buffer_cache:
          description: Shared buffer hits and reads over all databases since the statistics were reset.
          returned: always
          type: dict
          contains:
            hit_percent:
              description: Hits of hits plus reads, one decimal; V(null) before any block was read.
              returned: always
              type: float
              sample: 99.2
            blocks_hit:
              description: Sum of C(pg_stat_database.blks_hit).
              returned: always
              type: int
              sample: 108892
            blocks_read:
              description: Sum of C(pg_stat_database.blks_read).
              returned: always
              type: int
              sample: 1373
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import exit_with_facts
from ansible_collections.hostcare.vps.plugins.module_utils._postgres import gather_postgres_facts
from ansible_collections.hostcare.vps.plugins.module_utils._postgres_connection import CONNECTION_SPEC, resolve_connection

ARGUMENT_SPEC = {
    **CONNECTION_SPEC,
    "fail_on_unavailable": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with_facts(module, "hostcare_postgres", "PostgreSQL", gather_postgres_facts, check=resolve_connection)


if __name__ == "__main__":
    main()
