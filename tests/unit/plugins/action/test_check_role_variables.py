# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.check_role_variables in a real ansible-playbook run on localhost.

The four roles of the collection are applied with a misspelt variable (issue 17: ignored in three roles of four)
or a bad value: each must fail in its first task, naming the variable and the closest known one, before any task
that reads or changes the host. A throw-away role checks what is not an unknown input: its registered result
(declared in outputs), its internal __ names, and another role's longer prefix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")

CASES = {
    "swap misspelt": ("hostcare.vps.swap", {"hostcare_swap_sise": "2G"},
                      "hostcare.vps.swap: hostcare_swap_sise: unknown variable; did you mean hostcare_swap_size?"),
    "swap bad value": ("hostcare.vps.swap", {"hostcare_swap_swappiness": 101, "hostcare_swap_file": "swapfile"},
                       "hostcare.vps.swap: hostcare_swap_file: must be an absolute path (starting with /), got "
                       "'swapfile'; hostcare_swap_swappiness: must be a whole number at least 0 and at most 100, got "
                       "101. Nothing was changed."),
    "logrotate misspelt": ("hostcare.vps.logrotate", {"hostcare_logrotate_entrys": []},
                           "hostcare_logrotate_entrys: unknown variable; did you mean hostcare_logrotate_entries?"),
    "logrotate overlapping entries": (
        "hostcare.vps.logrotate",
        {"hostcare_logrotate_entries": [{"name": "app", "paths": ["/srv/app/*.log"]},
                                        {"name": "app-hourly", "paths": ["/srv/app/busy.log"], "frequency": "hourly"}]},
        "hostcare_logrotate_entries: entries 'app' and 'app-hourly' name the same log"),
    "logrotate relative config_dir": ("hostcare.vps.logrotate", {"hostcare_logrotate_config_dir": "lr-rel.d"},
                                      "hostcare_logrotate_config_dir: must be an absolute path (starting with /)"),
    "bluegreen misspelt": ("hostcare.vps.bluegreen",
                           {"hostcare_bluegreen_app": "demo", "hostcare_bluegreen_container_port": 3000,
                            "hostcare_bluegreen_imgae": "nginx:1"},
                           "hostcare_bluegreen_imgae: unknown variable; did you mean hostcare_bluegreen_image?"),
    "docker_cleanup misspelt": ("hostcare.vps.docker_cleanup", {"hostcare_docker_cleanup_keeep": 3},
                                "hostcare_docker_cleanup_keeep: unknown variable; did you mean "
                                "hostcare_docker_cleanup_keep?"),
    "demo misspelt": ("demo", {"hostcare_demo_sise": 1},
                      "hostcare.vps.demo: hostcare_demo_sise: unknown variable; did you mean hostcare_demo_size?"),
}

DEMO_SPECS = """\
argument_specs:
  main:
    short_description: A role to test the variable check
    options:
      hostcare_demo_size:
        description: [A size.]
        type: int
        default: 1
"""

DEMO_TASKS = """\
- name: Refuse unknown variables
  hostcare.vps.check_role_variables:
    outputs: [hostcare_demo_result]

- name: Set an internal fact
  ansible.builtin.set_fact:
    __hostcare_demo_internal: 1

- name: Register the result for the caller
  ansible.builtin.debug:
    msg: "{{ hostcare_demo_size }}"
  register: hostcare_demo_result
"""


def _playbook(results):
    tasks = []
    for case, (role, role_vars, dummy) in CASES.items():
        tasks.append({
            "name": case,
            "block": [
                {"name": f"Apply {role}", "ansible.builtin.include_role": {"name": role}, "vars": role_vars},
                {"name": "Record an acceptance", "ansible.builtin.set_fact": {
                    "results": "{{ results | combine({%r: {'accepted': true}}) }}" % case}},
            ],
            "rescue": [{"name": "Record the refusal", "ansible.builtin.set_fact": {
                "results": "{{ results | combine({%r: {'msg': ansible_failed_result.msg, "
                           "'task': ansible_failed_task.name}}) }}" % case}}],
        })
    tasks += [
        # Twice: the second run sees the first run's registered hostcare_demo_result and __ fact, and a variable
        # of the role demo_extra, whose prefix extends this one's.
        {"name": "Apply demo", "ansible.builtin.include_role": {"name": "demo"},
         "vars": {"hostcare_demo_extra_level": 2}},
        {"name": "Apply demo again", "ansible.builtin.include_role": {"name": "demo"},
         "vars": {"hostcare_demo_extra_level": 2}},
        {"name": "Record the good runs", "ansible.builtin.set_fact": {
            "results": "{{ results | combine({'demo twice': {'accepted': hostcare_demo_result is defined}}) }}"}},
        {"name": "Write the results",
         "ansible.builtin.copy": {"content": "{{ results | to_json }}", "dest": results, "mode": "0644"}},
    ]
    return [{"name": "Check role variables", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"results": {}, "ansible_python_interpreter": sys.executable}, "tasks": tasks}]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("check-role-variables")
    for role, files in {"demo": {"meta/argument_specs.yml": DEMO_SPECS, "tasks/main.yml": DEMO_TASKS,
                                 "defaults/main.yml": "hostcare_demo_size: 1\n"},
                        "demo_extra": {"tasks/main.yml": "- ansible.builtin.meta: noop\n"}}.items():
        for name, text in files.items():
            path = root / "roles" / role / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    playbook = root / "playbook.yml"
    playbook.write_text(json.dumps(_playbook(str(root / "results.json"))))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_ROLES_PATH=str(root / "roles"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_NOCOLOR="true", ANSIBLE_RETRY_FILES_ENABLED="false")
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    run = subprocess.run([ansible_playbook, "-i", "localhost,", str(playbook)], env=env, cwd=str(root),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, textwrap.shorten(run.stdout[-4000:] + run.stderr[-2000:], 6000)
    return json.loads((root / "results.json").read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_first_task_refuses_with_the_closest_known_name(results, case):
    message = CASES[case][2]
    assert "msg" in results[case], results[case]
    assert message in results[case]["msg"], results[case]["msg"]
    assert results[case]["msg"].endswith("Nothing was changed.")
    assert results[case]["task"].startswith("Refuse unknown"), results[case]  # the first task, before any change


def test_outputs_internal_names_and_other_roles_prefixes_are_not_unknown(results):
    assert results["demo twice"] == {"accepted": True}
