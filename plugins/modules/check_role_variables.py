#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: check_role_variables
short_description: Refuse unknown variables with a role's prefix, and bad values, before the role changes anything
version_added: 0.1.0
author: hostcare.vps contributors (@hostcare)
description:
  - The first task of every role of this collection. Fails, naming each variable and the closest known one, when a
    variable with the role's prefix (C(hostcare_<role>_)) is not an option of the role's C(meta/argument_specs.yml);
    C(hostcare_swap_sise) fails with C(did you mean hostcare_swap_size?) instead of being ignored while the default
    size is used.
  - The known names are read from C(meta/argument_specs.yml), the same list C(ansible-doc) shows and Ansible uses to
    check the variables' types; they are not written anywhere else.
  - Names the role sets itself start with C(__) (C(__hostcare_swap_result)), so they never carry the prefix. A result
    the role registers for its caller under the prefix is listed in O(outputs).
  - Variables of another role of the collection whose prefix extends this one (C(hostcare_docker_cleanup_) for a role
    C(docker)) are left to that role.
  - For a role whose inputs go to more than one task (C(swap), C(logrotate)), also checks the values of its
    variables with the Python checks its modules use, so that a bad value in the last task stops the first.
  - This is an action plugin; it runs on the controller and never connects to the managed host.
options:
  outputs:
    description:
      - Variables with the role's prefix that the role sets for its caller (a registered result), not inputs.
    type: list
    elements: str
    default: []
  entry_point:
    description:
      - The entry point of C(meta/argument_specs.yml) whose options are the known variables. Default, the tasks file
        the role was called with (C(main)).
    type: str
extends_documentation_fragment:
  - hostcare.vps._attributes.controller
attributes:
  check_mode:
    description: Checks the same way; never changes anything.
  diff_mode:
    description: Nothing to show.
"""

EXAMPLES = r"""
# roles/<role>/tasks/main.yml
- name: Refuse unknown hostcare_swap_ variables and bad values before changing anything
  hostcare.vps.check_role_variables:

- name: Refuse unknown hostcare_bluegreen_ variables (hostcare_bluegreen_result is the role's result)
  hostcare.vps.check_role_variables:
    outputs: [hostcare_bluegreen_result]
"""

RETURN = r"""
role:
  description: The role whose variables were checked.
  returned: always
  type: str
  sample: swap
known:
  description: Its variables, from C(meta/argument_specs.yml).
  returned: success
  type: list
  elements: str
problems:
  description: One message per unknown variable or bad value, each starting with the variable's name.
  returned: failure
  type: list
  elements: str
  sample: ["hostcare_swap_sise: unknown variable; did you mean hostcare_swap_size?"]
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"outputs": {"type": "list", "elements": "str", "default": []}, "entry_point": {"type": "str"}},
        supports_check_mode=True,
    )
    module.fail_json(msg="hostcare.vps.check_role_variables runs on the controller as an action plugin only")


if __name__ == "__main__":
    main()
