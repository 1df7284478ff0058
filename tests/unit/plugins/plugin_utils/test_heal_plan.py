# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heal's planner (plugins/plugin_utils/_heal_plan.py, issue 16 item 1): which role heals which finding with which
variables, what is held back, not healable, skipped, in conflict or accepted; checked against the roles' real
meta/argument_specs.yml and defaults/main.yml."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import make_finding
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import facts_from_results, host_report
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_plan import (
    KEEP_ALL_IMAGES,
    ROLE_ORDER,
    HealError,
    masked_vars,
    plan_heal,
    plan_lines,
    report_from_file_text,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import build_host_report

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "audit")


def _role_file(role, *parts):
    with open(os.path.join(ROOT, "roles", role.rsplit(".", 1)[-1], *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


OPTIONS = {role: sorted(_role_file(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"])
           for role in ROLE_ORDER}
DEFAULTS = {role: _role_file(role, "defaults", "main.yml") for role in ROLE_ORDER}


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def troubled(ignore=None):
    facts = facts_from_results({"swap": {"ansible_facts": {"hostcare_swap": load("swap_troubled")}},
                                "disk": {"ansible_facts": {"hostcare_disk": load("disk_troubled")}},
                                "docker": {"ansible_facts": {"hostcare_docker": load("docker_bloated")}}})
    return host_report("h", facts, ignore=ignore, today="2026-12-06")


def report_of(*findings):
    return build_host_report("h", list(findings))


def plan(report, **kwargs):
    return plan_heal(report, OPTIONS, role_defaults=DEFAULTS, **kwargs)


def status(result, key):
    return next(entry for entry in result["findings"] if entry["key"] == key)


def swap_none(command="sudo fallocate ..."):
    return make_finding("swap.none", "critical", "No swap", "s", risk="caution", role="hostcare.vps.swap",
                        evidence={"recommended_swap_bytes": 2 << 30, "swap_fits_bytes": 2 << 30}, command=command)


def swappiness():
    return make_finding("swap.swappiness_high", "warning", "swappiness 60", "s", risk="safe", role="hostcare.vps.swap",
                        evidence={"swappiness": 60, "recommended_swappiness": 10}, command="sysctl")


def pg_defaults(instance, role_vars, names=("shared_buffers", "work_mem")):
    settings = [{"name": name, "context": "postmaster" if name == "shared_buffers" else "user"} for name in names]
    return make_finding("postgres.memory_defaults", "warning", f"{instance}: defaults", "s", risk="caution",
                        role="hostcare.vps.postgresql_tune",
                        evidence={"instance": instance, "names": list(names), "settings": settings,
                                  "role_vars": role_vars})


# --------------------------------------------------------------------------------------------- the real audit


def test_a_troubled_host_is_planned_role_by_role_in_order():
    result = plan(troubled())
    runs = {run["role"]: run for run in result["runs"]}
    assert [run["role"] for run in result["runs"]] == ["hostcare.vps.logrotate", "hostcare.vps.docker_cleanup"]
    logrotate = runs["hostcare.vps.logrotate"]
    assert logrotate["findings"] == ["disk.journal_large", "disk.unrotated_logs", "docker.daemon_log_opts",
                                     "docker.logs_uncapped"]
    assert logrotate["vars"]["hostcare_logrotate_journald"] is True and logrotate["vars"]["hostcare_logrotate_docker"]
    assert logrotate["vars"]["hostcare_logrotate_docker_max_size"] == "10m"
    assert [entry["name"] for entry in logrotate["vars"]["hostcare_logrotate_entries"]] == [
        "var-www-app-log", "var-log-nginx"]
    cleanup = runs["hostcare.vps.docker_cleanup"]["vars"]
    assert cleanup == {"hostcare_docker_cleanup_remove_dangling": True, "hostcare_docker_cleanup_keep": 3,
                       "hostcare_docker_cleanup_containers_older_than": "7d"}
    # swap.none: the disk has no room (the audit gave no command) -> not healable, and swappiness goes with it
    assert status(result, "swap.none")["status"] == "not_healable"
    assert "no place for a swap file" in status(result, "swap.none")["why"]
    assert status(result, "swap.swappiness_high")["status"] == "not_healable"
    assert status(result, "docker.unused_volumes")["status"] == "not_healable"
    volumes = make_finding("docker.unused_volumes", "info", "t", "s", role="hostcare.vps.docker_cleanup")
    assert "volumes hold data" in status(plan(report_of(volumes)), "docker.unused_volumes")["why"]
    assert status(result, "disk.full")["why"].startswith("no role of this collection fixes it")
    assert result["counts"]["planned"] == 8
    for run in result["runs"]:  # every variable the planner sets is an option of the role
        assert set(run["vars"]) <= set(OPTIONS[run["role"]])


def test_accepted_risks_are_never_healed():
    result = plan(troubled(ignore=[{"id": "docker.old_tags", "reason": "rollback tags, kept on purpose"}]))
    entry = status(result, "docker.old_tags")
    assert entry["status"] == "ignored" and entry["why"] == "accepted risk: rollback tags, kept on purpose"
    cleanup = next(run for run in result["runs"] if run["role"] == "hostcare.vps.docker_cleanup")
    assert "docker.old_tags" not in cleanup["findings"]
    assert cleanup["vars"]["hostcare_docker_cleanup_keep"] == KEEP_ALL_IMAGES  # old tags are left alone


def test_only_the_parts_of_a_role_a_finding_asks_for():
    result = plan(troubled(), include=["disk.journal_large"])
    (run,) = result["runs"]
    assert run["vars"] == {"hostcare_logrotate_journald": True, "hostcare_logrotate_docker": False,
                           "hostcare_logrotate_entries": [], "hostcare_logrotate_journald_system_max_use": "500M",
                           "hostcare_logrotate_journald_vacuum_size": "500M"}
    assert status(result, "docker.old_tags") == {**status(result, "docker.old_tags"), "status": "skipped",
                                                 "why": "not in heal_include"}


def test_logrotate_already_installed_is_not_installed_again():
    report = troubled()
    report["facts"]["disk"]["logrotate"] = {"binary": "/usr/sbin/logrotate"}
    (run,) = plan(report, include=["disk.unrotated_logs"])["runs"]
    assert run["vars"]["hostcare_logrotate_install"] is False
    report["facts"]["disk"]["logrotate"] = None
    (run,) = plan(report, include=["disk.unrotated_logs"])["runs"]
    assert "hostcare_logrotate_install" not in run["vars"]


def test_exclude():
    result = plan(troubled(), exclude=["docker.stopped_containers"])
    cleanup = next(run for run in result["runs"] if run["role"] == "hostcare.vps.docker_cleanup")
    assert "hostcare_docker_cleanup_containers_older_than" not in cleanup["vars"]  # the role's default: none removed
    assert status(result, "docker.stopped_containers")["why"] == "in heal_exclude"


# --------------------------------------------------------------------------------------------- swap


def test_swap_with_swappiness_in_one_run_and_user_overrides_win():
    result = plan(report_of(swap_none(), swappiness()),
                  overrides={"swap": {"hostcare_swap_file": "/srv/swap/swapfile"}})
    (run,) = result["runs"]
    assert run["vars"] == {"hostcare_swap_swappiness": 10, "hostcare_swap_vfs_cache_pressure": None,
                           "hostcare_swap_file": "/srv/swap/swapfile"}
    assert run["overridden"] == ["hostcare_swap_file"]
    assert run["findings"] == ["swap.none", "swap.swappiness_high"]
    assert any("hostcare_swap_file: /srv/swap/swapfile (heal_role_vars)" in line for line in plan_lines(result))


def test_swap_fitted_to_the_disk():
    finding = swap_none()
    finding["evidence"]["swap_fits_bytes"] = 1 << 30
    (run,) = plan(report_of(finding))["runs"]
    assert run["vars"]["hostcare_swap_size"] == 1 << 30


# --------------------------------------------------------------------------------------------- restarts, conflicts


def test_a_postgresql_restart_is_held_back_unless_allowed():
    finding = pg_defaults("native", {"hostcare_postgresql_tune_method": "local_socket"})
    result = plan(report_of(finding))
    assert result["runs"] == []
    entry = status(result, "postgres.memory_defaults@native")
    assert entry["status"] == "held_back" and "shared_buffers takes effect only after a PostgreSQL restart" in entry["why"]
    (run,) = plan(report_of(finding), allow_restart=True)["runs"]
    assert run["vars"] == {"hostcare_postgresql_tune_method": "local_socket"}
    no_restart = pg_defaults("native", {"hostcare_postgresql_tune_method": "local_socket"}, names=("work_mem",))
    assert [run["role"] for run in plan(report_of(no_restart))["runs"]] == ["hostcare.vps.postgresql_tune"]


def test_a_dangerous_fix_is_held_back():
    finding = make_finding("docker.dangling_images", "warning", "t", "s", risk="dangerous",
                           role="hostcare.vps.docker_cleanup")
    assert status(plan(report_of(finding)), "docker.dangling_images")["status"] == "held_back"
    assert plan(report_of(finding), allow_restart=True)["counts"]["planned"] == 1


def test_two_instances_two_runs_without_leaking_variables():
    findings = [pg_defaults("container db", {"hostcare_postgresql_tune_container": "db"}, names=("work_mem",)),
                pg_defaults("native", {"hostcare_postgresql_tune_method": "local_socket"}, names=("work_mem",))]
    runs = plan(report_of(*findings))["runs"]
    assert [(run["instance"], run["vars"]) for run in runs] == [
        ("container db", {"hostcare_postgresql_tune_container": "db", "hostcare_postgresql_tune_method": "auto"}),
        ("native", {"hostcare_postgresql_tune_method": "local_socket", "hostcare_postgresql_tune_container": None})]


def test_conflicting_variables_are_refused_on_the_second_finding():
    first = make_finding("docker.daemon_log_opts", "warning", "t", "s", risk="caution", role="hostcare.vps.logrotate",
                         evidence={"role_vars": {"hostcare_logrotate_docker_max_size": "10m"}})
    second = make_finding("docker.logs_uncapped", "warning", "t", "s", risk="caution", role="hostcare.vps.logrotate",
                          evidence={"role_vars": {"hostcare_logrotate_docker_max_size": "50m"}})
    result = plan(report_of(second, first))
    assert status(result, "docker.daemon_log_opts")["status"] == "planned"
    entry = status(result, "docker.logs_uncapped")
    assert entry["status"] == "conflict"
    assert entry["why"] == ("hostcare_logrotate_docker_max_size is '10m' for docker.daemon_log_opts but '50m' for "
                            "docker.logs_uncapped: set heal_role_vars.logrotate.hostcare_logrotate_docker_max_size to "
                            "choose, or heal one of them (heal_exclude)")
    # the user decides: no conflict, their value
    result = plan(report_of(second, first), overrides={"logrotate": {"hostcare_logrotate_docker_max_size": "20m"}})
    assert result["counts"]["conflict"] == 0
    assert result["runs"][0]["vars"]["hostcare_logrotate_docker_max_size"] == "20m"


def test_logrotate_entries_of_two_findings_merge_by_name():
    entry_a = {"name": "a", "paths": ["/a.log"]}
    entry_b = {"name": "b", "paths": ["/b.log"]}
    first = make_finding("disk.unrotated_logs", "warning", "t", "s", risk="caution", role="hostcare.vps.logrotate",
                         evidence={"role_vars": {"hostcare_logrotate_entries": [entry_a]}})
    other = make_finding("logs.other", "warning", "t", "s", risk="caution", role="hostcare.vps.logrotate",
                         evidence={"role_vars": {"hostcare_logrotate_entries": [entry_a, entry_b]}})
    (run,) = plan(report_of(first, other))["runs"]
    assert run["vars"]["hostcare_logrotate_entries"] == [entry_a, entry_b]
    clash = make_finding("logs.other", "warning", "t", "s", risk="caution", role="hostcare.vps.logrotate",
                         evidence={"role_vars": {"hostcare_logrotate_entries": [{"name": "a", "paths": ["/c.log"]}]}})
    assert status(plan(report_of(first, clash)), "logs.other")["status"] == "conflict"


# --------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize("kwargs, message", [
    ({"overrides": {"swapp": {}}}, "heal_role_vars: unknown role 'swapp'; known: docker_cleanup, logrotate, "
                                   "postgresql_tune, swap"),
    ({"overrides": {"swap": {"hostcare_swap_sise": "1G"}}},
     "heal_role_vars.swap: hostcare_swap_sise: unknown variable; did you mean hostcare_swap_size?"),
    ({"overrides": {"swap": {"swap_size": "1G"}}}, "swap_size: not a variable of hostcare.vps.swap"),
    ({"overrides": {"swap": "big"}}, "heal_role_vars.swap must be a dict"),
    ({"overrides": ["swap"]}, "heal_role_vars must be a dict"),
    ({"include": "swap.none"}, "heal_include must be a list of finding ids"),
    ({"exclude": ["Swap"]}, "heal_exclude: 'Swap' is not a finding id"),
    ({"include": ["swap.none"], "exclude": ["swap.none"]}, "swap.none is in both heal_include and heal_exclude"),
    ({"allow_restart": "yes"}, "heal_allow_restart must be true or false"),
])
def test_bad_options_are_refused_before_anything(kwargs, message):
    with pytest.raises(HealError) as error:
        plan(report_of(swap_none()), **kwargs)
    assert message in str(error.value)


def test_a_fleet_summary_is_refused():
    with pytest.raises(HealError, match="one host's report"):
        plan({"kind": "fleet", "hosts": [], "worst_findings": [], "by_finding": [], "not_audited": []})


def test_secrets_are_masked_on_the_console():
    finding = pg_defaults("tcp db:5432", {"hostcare_postgresql_tune_host": "db"}, names=("work_mem",))
    result = plan(report_of(finding), overrides={"postgresql_tune": {"hostcare_postgresql_tune_password": "s3cret"}})
    assert result["runs"][0]["vars"]["hostcare_postgresql_tune_password"] == "s3cret"  # the role needs it
    assert "s3cret" not in "\n".join(plan_lines(result))
    assert masked_vars({"hostcare_postgresql_tune_password": "x"}) == {"hostcare_postgresql_tune_password": "********"}


def test_the_plan_is_deterministic():
    assert plan(troubled()) == plan(troubled())
    assert json.dumps(plan(troubled()), sort_keys=True)


def test_swap_without_a_place_heals_only_where_the_user_says():
    finding = swap_none(command=None)
    finding["evidence"]["container_note"] = "Measured inside a docker container"
    entry = status(plan(report_of(finding)), "swap.none")
    assert entry["status"] == "not_healable"
    assert entry["why"].endswith("set heal_role_vars.swap.hostcare_swap_file to choose one")
    (run,) = plan(report_of(finding), overrides={"swap": {"hostcare_swap_file": "/srv/swap/swapfile"}})["runs"]
    assert run["vars"]["hostcare_swap_file"] == "/srv/swap/swapfile"


@pytest.mark.parametrize("module, spec_name", [("heal_plan", "HEAL_PLAN_SPEC"), ("heal_report", "HEAL_REPORT_SPEC")])
def test_action_documentation_matches_its_argument_spec(module, spec_name):
    from ansible_collections.hostcare.vps.plugins.module_utils import _heal_args  # pylint: disable=import-outside-toplevel
    spec = getattr(_heal_args, spec_name)
    with open(os.path.join(ROOT, "plugins", "modules", f"{module}.py"), encoding="utf-8") as handle:
        source = handle.read()
    documented = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])["options"]
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("required", False) == option.get("required", False), name


def test_a_saved_report_of_this_host_plans_as_the_fresh_one():
    report = troubled()
    saved = report_from_file_text(json.dumps(report), "h", "/reports/h.json")
    assert saved == report
    assert plan(saved) == plan(report)


@pytest.mark.parametrize("text, message", [
    ("{not json", "report_file: /reports/h.json is not JSON"),
    (json.dumps({"kind": "host", "host": "other", "findings": []}), "is the report of 'other', not of 'h'"),
    (json.dumps({"kind": "fleet", "totals": {}}), "is a fleet summary"),
    (json.dumps([1, 2]), "report_file: /reports/h.json: expected a host report"),
])
def test_a_saved_report_that_cannot_be_this_hosts_is_refused_by_name(text, message):
    with pytest.raises(HealError, match="^report_file: ") as error:
        report_from_file_text(text, "h", "/reports/h.json")
    assert message in str(error.value)
