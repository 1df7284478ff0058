# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The one PostgreSQL memory model, re-exported from module_utils._pg_memory (where modules can use it too)."""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._pg_memory import (  # noqa: F401  (re-exports)
    CRITICAL_PERCENT,
    DEFAULT_AUTOVACUUM_WORKERS,
    LOW_PERCENT,
    MIN_CONNECTIONS,
    MODEL_SETTINGS,
    WARNING_PERCENT,
    WORK_MEM_FACTOR,
    WORK_MEM_FLOOR_BYTES,
    fit_to_budget,
    memory_model,
    model_settings,
    share_percent,
    with_values,
)

__all__ = ("CRITICAL_PERCENT", "DEFAULT_AUTOVACUUM_WORKERS", "LOW_PERCENT", "MIN_CONNECTIONS", "MODEL_SETTINGS",
           "WARNING_PERCENT", "WORK_MEM_FACTOR", "WORK_MEM_FLOOR_BYTES", "fit_to_budget", "memory_model",
           "model_settings", "share_percent", "with_values")
