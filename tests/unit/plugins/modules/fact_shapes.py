# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key trees of a fact module's facts and of its RETURN documentation, to check that one matches the other."""

from __future__ import annotations


def documented_keys(node):
    """RETURN `contains:` tree -> nested dict of key names (None for leaves)."""
    return {name: documented_keys(spec["contains"]) if "contains" in spec else None for name, spec in node.items()}


def fact_keys(value):
    """Facts -> nested dict of key names; a list contributes the keys of its elements."""
    if isinstance(value, list):
        merged = {}
        for item in value:
            merged.update(fact_keys(item) or {})
        return merged or None
    if isinstance(value, dict):
        return {name: fact_keys(item) for name, item in value.items()}
    return None


def fact_shape(value):
    """Nested dict keys of a facts value; the first element stands for a list."""
    if isinstance(value, dict):
        return {key: fact_shape(item) for key, item in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [fact_shape(value[0])]
    return None


def documented_shape(contains):
    """RETURN `contains:` tree -> fact_shape() of the facts it documents."""
    return {key: ([documented_shape(doc["contains"])] if doc["type"] == "list" else documented_shape(doc["contains"]))
            if "contains" in doc else None for key, doc in contains.items()}
