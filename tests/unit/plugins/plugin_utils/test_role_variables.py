# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.plugin_utils._role_variables import (
    ROLE_VALUE_CHECKS,
    argument_spec_options,
    other_role_prefixes,
    role_prefix,
    role_value_errors,
    unknown_role_variables,
)

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")
ROLE_NAMES = sorted(name for name in os.listdir(ROLES) if os.path.isdir(os.path.join(ROLES, name)))


def _specs(role):
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]


def _defaults(role):
    with open(os.path.join(ROLES, role, "defaults", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_role_prefix():
    assert role_prefix("swap") == "hostcare_swap_"
    assert role_prefix("hostcare.vps.docker_cleanup") == "hostcare_docker_cleanup_"


@pytest.mark.parametrize("name, known, expected", [
    ("hostcare_swap_sise", ["hostcare_swap_size", "hostcare_swap_state"], "did you mean hostcare_swap_size?"),
    ("hostcare_logrotate_entrys", ["hostcare_logrotate_entries"], "did you mean hostcare_logrotate_entries?"),
    ("hostcare_bluegreen_imgae", ["hostcare_bluegreen_image", "hostcare_bluegreen_app"],
     "did you mean hostcare_bluegreen_image?"),
    ("hostcare_swap_zzzzzzzzzz", ["hostcare_swap_size"], "known: hostcare_swap_size"),
])
def test_unknown_variables_name_the_closest_known_one(name, known, expected):
    prefix = role_prefix(known[0].split("_")[1])
    assert unknown_role_variables([name, *known, "ansible_host"], prefix, known) == [f"{name}: unknown variable; {expected}"]


def test_what_is_not_an_unknown_input():
    known = ["hostcare_bluegreen_app"]
    names = ["hostcare_bluegreen_app", "__hostcare_bluegreen_state", "hostcare_bluegreen_result", "hostcare_swap_x",
             "bluegreen_app", "hostcare_bluegreenx"]
    assert unknown_role_variables(names, "hostcare_bluegreen_", known, outputs=["hostcare_bluegreen_result"]) == []
    assert unknown_role_variables(names, "hostcare_bluegreen_", known) == [
        "hostcare_bluegreen_result: unknown variable; known: hostcare_bluegreen_app"]


def test_a_longer_prefix_of_another_role_is_that_roles():
    assert other_role_prefixes("hostcare_docker_", ["docker", "docker_cleanup", "swap"]) == ["hostcare_docker_cleanup_"]
    assert unknown_role_variables(["hostcare_docker_cleanup_keep", "hostcare_docker_sise"], "hostcare_docker_",
                                  ["hostcare_docker_size"], other_prefixes=["hostcare_docker_cleanup_"]) == [
        "hostcare_docker_sise: unknown variable; did you mean hostcare_docker_size?"]


@pytest.mark.parametrize("specs, message", [
    (None, "no argument_specs mapping"),
    ({"other": {"options": {}}}, "no options for the entry point 'main'"),
    ({"main": {"short_description": "x"}}, "no options for the entry point 'main'"),
])
def test_argument_specs_without_options_are_an_error(specs, message):
    with pytest.raises(ValueError, match=message):
        argument_spec_options(specs)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_role_checks_its_variables_first_from_its_argument_specs(role):
    """The one mechanism in every role: the first task, and every default is a known variable."""
    with open(os.path.join(ROLES, role, "tasks", "main.yml"), encoding="utf-8") as handle:
        first = yaml.safe_load(handle)[0]
    assert "hostcare.vps.check_role_variables" in first, role
    known = argument_spec_options(_specs(role))
    assert unknown_role_variables(_defaults(role), role_prefix(role), known) == []
    assert all(name.startswith(role_prefix(role)) for name in known)


@pytest.mark.parametrize("role", sorted(ROLE_VALUE_CHECKS))
def test_the_defaults_pass_the_value_check(role):
    defaults = {name: value for name, value in _defaults(role).items() if name.startswith(role_prefix(role))}
    assert role_value_errors(role, defaults) == []


def test_roles_without_a_value_check():
    assert role_value_errors("bluegreen", {"hostcare_bluegreen_app": None}) == []
