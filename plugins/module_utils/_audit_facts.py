# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The facts the audit reads from a host, in one module run (hostcare.vps.audit_facts): swap, disk, Docker,
workload and the host's own PostgreSQL, each with the options and the gathering of its own fact module, so that
the audit of a fleet costs one round trip per host instead of five. An area that fails is reported as its own
module would be; the others still run."""

from __future__ import annotations

from collections import namedtuple

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hostcare.vps.plugins.module_utils import _disk_options, _docker_facts, _workload
from ansible_collections.hostcare.vps.plugins.module_utils._disk import gather_disk_facts
from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import gather_result
from ansible_collections.hostcare.vps.plugins.module_utils._memory import build_swap_facts, read_swap_inputs
from ansible_collections.hostcare.vps.plugins.module_utils._postgres import gather_postgres_facts
from ansible_collections.hostcare.vps.plugins.module_utils._postgres_connection import CONNECTION_SPEC, resolve_connection
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

Area = namedtuple("Area", "module fact_name what spec check gather")

# The host's own PostgreSQL, through its local socket as the OS user: no login, so no secret ever passes through
# this module's arguments (logins go to hostcare.vps.pg_settings_facts, whose password options are no_log).
NATIVE_POSTGRES_OPTIONS = ("os_user", "socket_dir", "port", "dbname", "timeout")
NATIVE_POSTGRES_SPEC = dict({key: CONNECTION_SPEC[key] for key in NATIVE_POSTGRES_OPTIONS},
                            fail_on_unavailable={"type": "bool", "default": False})


def native_postgres_connection(params):
    """The local-socket connection of pg_settings_facts for these options (the others at their defaults)."""
    full = {key: spec.get("default") for key, spec in CONNECTION_SPEC.items()}
    full.update({key: params[key] for key in NATIVE_POSTGRES_OPTIONS}, method="local_socket")
    return resolve_connection(full)


# gather(options, run_command) -> facts; check(params) -> options (raises OptionError naming the option).
AREAS = {
    "swap": Area("swap_facts", "hostcare_swap", "swap", {}, lambda _params: None,
                 lambda _options, _run: build_swap_facts(read_swap_inputs())),
    "disk": Area("disk_pressure_facts", "hostcare_disk", "disk", _disk_options.ARGUMENT_SPEC,
                 _disk_options.validate_options, lambda options, _run: gather_disk_facts(**options)),
    "docker": Area("docker_bloat_facts", "hostcare_docker", "Docker", _docker_facts.ARGUMENT_SPEC,
                   _docker_facts.checked_options,
                   lambda options, _run: _docker_facts.gather_docker_facts(**options)),
    "workload": Area("workload_facts", "hostcare_workload", "workload", _workload.ARGUMENT_SPEC,
                     _workload.checked_options,
                     lambda options, run: _workload.gather_workload_facts(run, **options)),
    "postgres": Area("pg_settings_facts", "hostcare_postgres", "PostgreSQL", NATIVE_POSTGRES_SPEC,
                     native_postgres_connection, lambda connection, _run: gather_postgres_facts(connection)),
}


def checked_area_options(areas, params):
    """{area: its checked options} for the areas asked, before anything is read. ``params[area]`` holds the options
    of that area's own module (None: its defaults); unknown or bad ones raise OptionError naming the area."""
    unknown = [name for name in areas if name not in AREAS]
    if unknown:
        raise OptionError(f"areas: unknown {', '.join(map(str, unknown))}; known: {', '.join(AREAS)}")
    checked = {}
    for name in dict.fromkeys(areas):
        area = AREAS[name]
        given = params.get(name)
        if given is not None and not isinstance(given, dict):
            raise OptionError(f"{name}: expected a dict of hostcare.vps.{area.module} options, got {type(given).__name__}")
        known = set(area.spec).union(*(spec.get("aliases", ()) for spec in area.spec.values()))
        unknown = sorted(str(key) for key in (given or {}) if key not in known)
        if unknown:
            raise OptionError(f"{name}: unknown option {', '.join(unknown)}; hostcare.vps.{area.module} takes "
                              f"{', '.join(sorted(known)) or 'none'}")
        validated = ArgumentSpecValidator(area.spec).validate(dict(given or {}))
        if validated.error_messages:
            raise OptionError(f"{name}: " + "; ".join(validated.error_messages))
        try:
            options = area.check(validated.validated_parameters)
        except OptionError as error:
            raise OptionError(f"{name}.{error}") from None
        checked[name] = (options, bool(validated.validated_parameters.get("fail_on_unavailable")))
    return checked


def gather_areas(checked, run_command):
    """{area: its module-shaped result} (see _fact_module.gather_result), one area after the other."""
    results = {}
    for name, (options, fail_on_unavailable) in checked.items():
        area = AREAS[name]
        results[name] = gather_result(area.what, area.fact_name,
                                      lambda opts, gather=area.gather: gather(opts, run_command),
                                      options, fail_on_unavailable)
    return results
