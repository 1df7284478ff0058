# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL tuning filters. Documented in the sidecar files pg_tune.yml and pg_diff.yml.

Each filter checks its arguments, raises AnsibleFilterError naming the bad key and the allowed values, and
delegates to plugins/plugin_utils/_pg_tune.py or _pg_diff.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.plugin_utils._filter_args import refuse_unknown_arguments
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import PgDiffError
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import check_inputs as check_pg_diff_inputs
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import pg_diff as compute_pg_diff
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import INPUT_KEYS, PgTuneError, normalise_inputs
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import pg_tune as compute_pg_tune
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_recommendation import RecommendationError
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_recommendation import recommendation as compute_recommendation


def _fail(name, message):
    raise AnsibleFilterError(f"hostcare.vps.{name}: {message}")


def pg_tune(inputs, /, **unknown):
    """PGTune's postgresql.conf settings for a dedicated server described by ``inputs``."""
    refuse_unknown_arguments("pg_tune", unknown, ())
    if not isinstance(inputs, Mapping):
        _fail("pg_tune", f"expected a dict with keys among {', '.join(INPUT_KEYS)}, got {type(inputs).__name__}")
    try:
        return compute_pg_tune(normalise_inputs(inputs))
    except PgTuneError as error:
        _fail("pg_tune", str(error))
    return None  # pragma: no cover - _fail raises


def pg_diff(facts, /, recommendation=None, **unknown):
    """Compare the hostcare_postgres fact with a pg_tune result, setting by setting."""
    refuse_unknown_arguments("pg_diff", unknown, ("recommendation",))
    try:
        check_pg_diff_inputs(facts, recommendation)
    except PgDiffError as error:
        _fail("pg_diff", str(error))
    return compute_pg_diff(facts, recommendation)


def pg_recommendation(facts, /, swap=None, instances=1, workload=None, memory_limit=None, workload_facts=None,
                      container=None, **unknown):
    """The audit's recommendation (postgres.memory_defaults) for the instance of the hostcare_postgres fact."""
    refuse_unknown_arguments("pg_recommendation", unknown, ("swap", "instances", "workload", "memory_limit",
                                                            "workload_facts", "container"))
    try:
        return compute_recommendation(facts, swap, instances, workload, memory_limit, workload_facts, container)
    except RecommendationError as error:
        _fail("pg_recommendation", str(error))
    return None  # pragma: no cover - _fail raises


class FilterModule:
    """hostcare.vps PostgreSQL tuning filters."""

    def filters(self):
        return {
            "pg_tune": pg_tune,
            "pg_diff": pg_diff,
            "pg_recommendation": pg_recommendation,
        }
