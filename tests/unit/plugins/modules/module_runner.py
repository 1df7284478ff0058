"""Run a module's main() in-process with given arguments, as Ansible would, and return its exit code and JSON."""

from __future__ import annotations

import contextlib
import json
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield


def _forget_earlier_warnings():
    """A real module run is a new process; in-process runs would otherwise inherit earlier runs' warnings."""
    for name in ("_global_warnings", "_global_deprecations"):
        getattr(module_warnings, name, {}).clear()


def run_module(main, capsys, args=None, check_mode=False, diff=False):
    """(exit code, parsed result) of ``main()`` run with ``args`` (and check/diff mode when asked)."""
    _forget_earlier_warnings()
    args = dict(args or {})
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)
