# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Puma / ActiveRecord pool / Sidekiq sizing filter. Documented in the sidecar file puma_pool.yml.

Checks its arguments, raises AnsibleFilterError naming the bad key and the allowed values, and delegates to
plugins/plugin_utils/_puma_pool.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.plugin_utils._filter_args import refuse_unknown_arguments
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import INPUT_KEYS, PumaPoolError, normalise_inputs
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import puma_pool as compute_puma_pool


def _fail(message):
    raise AnsibleFilterError(f"hostcare.vps.puma_pool: {message}")


def puma_pool(inputs, /, strict=False, **unknown):
    """Puma workers/threads, DB pools and Sidekiq concurrency for one app, checked against PostgreSQL's connections."""
    refuse_unknown_arguments("puma_pool", unknown, ("strict",))
    if not isinstance(inputs, Mapping):
        _fail(f"expected a dict with keys among {', '.join(INPUT_KEYS)}, got {type(inputs).__name__}")
    if not isinstance(strict, bool):
        _fail(f"strict: expected true or false, got {strict!r}")
    try:
        result = compute_puma_pool(normalise_inputs(inputs))
    except PumaPoolError as error:
        _fail(str(error))
    errors = result["errors"] + (result["audit"]["errors"] if result["audit"] else [])
    if strict and errors:
        _fail("; ".join(errors))
    return result


class FilterModule:
    """hostcare.vps Puma sizing filter."""

    def filters(self):
        return {
            "puma_pool": puma_pool,
        }
