# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's tests call _audit.build_findings with every area registered, as the entry point does."""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_rules  # noqa: F401  pylint: disable=unused-import
