# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL tuning filters. Documented in the sidecar files pg_tune.yml and pg_diff.yml.

Each filter checks its arguments, raises AnsibleFilterError naming the bad key and the allowed values, and
delegates to plugins/plugin_utils/_pg_tune.py or _pg_diff.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import pg_diff as compute_pg_diff
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import INPUT_KEYS, PgTuneError, normalise_inputs
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import pg_tune as compute_pg_tune


def _fail(name, message):
    raise AnsibleFilterError(f"hostcare.vps.{name}: {message}")


def pg_tune(inputs):
    """PGTune's postgresql.conf settings for a dedicated server described by ``inputs``."""
    if not isinstance(inputs, Mapping):
        _fail("pg_tune", f"expected a dict with keys among {', '.join(INPUT_KEYS)}, got {type(inputs).__name__}")
    try:
        return compute_pg_tune(normalise_inputs(inputs))
    except PgTuneError as error:
        _fail("pg_tune", str(error))
    return None  # pragma: no cover - _fail raises


def pg_diff(facts, recommendation):
    """Compare the hostcare_postgres fact with a pg_tune result, setting by setting."""
    if not isinstance(facts, Mapping):
        _fail("pg_diff", f"expected the hostcare_postgres fact of hostcare.vps.pg_settings_facts (a dict), "
                         f"got {type(facts).__name__}")
    if not isinstance(recommendation, Mapping) or not all(
            isinstance(recommendation.get(key), Mapping) for key in ("settings", "values")):
        _fail("pg_diff", "recommendation: expected the result of hostcare.vps.pg_tune (a dict with settings and values)")
    if facts.get("available") and not isinstance(facts.get("settings") or {}, Mapping):
        _fail("pg_diff", "settings of the fact: expected a dict of pg_settings rows by name")
    return compute_pg_diff(facts, recommendation)


class FilterModule:
    """hostcare.vps PostgreSQL tuning filters."""

    def filters(self):
        return {
            "pg_tune": pg_tune,
            "pg_diff": pg_diff,
        }
