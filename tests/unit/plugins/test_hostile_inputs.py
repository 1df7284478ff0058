# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile inputs, generated with Hypothesis, for every module's argument spec and every public filter.

Each call must either succeed or fail with a message naming the option (the key, the argument); never an
exception or a traceback, never a change on the host. Numeric options must refuse nan, inf, huge values and
non-ASCII digits. Modules run in-process in check mode, from a temporary working directory, with every path
option pointing into a temporary directory and Docker's socket at a path that does not exist; the tree of that
directory, the listing of / and /proc/swaps are compared before and after each call.

The argument specs are not copied here: each module's main() is run once with AnsibleModule intercepted, so a
new module or option is covered without editing this file. Bounded: HOSTILE_TIME_BUDGET seconds in all (default
40) and a fixed number of examples per module and filter, derandomized so that the counts are reproducible.
The counts (tried / refused cleanly / accepted / violations) are printed after the run and, when
HOSTILE_REPORT names a file, written there as Markdown (docs/hardening.md quotes them).
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import io
import json
import math
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError
from ansible.module_utils import basic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import (
    _forget_earlier_warnings,
    patch_module_args,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODULE_NAMES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))
                      if not os.path.basename(path).startswith("_"))
FILTER_NAMES = ("pg_tune", "pg_diff", "puma_pool", "swap_size", "audit_findings", "pg_recommendation")

TIME_BUDGET = float(os.environ.get("HOSTILE_TIME_BUDGET", "40"))
"""Seconds for the whole file: 80% shared by the modules, 20% by the filters (make test runs it twice)."""
MODULE_EXAMPLES = int(os.environ.get("HOSTILE_MODULE_EXAMPLES", "150"))
FILTER_EXAMPLES = int(os.environ.get("HOSTILE_FILTER_EXAMPLES", "400"))

# Modules and filters with failures another change is fixing at the same time: {name: why}; a listed case is
# marked xfail (strict=False, so it passes as soon as it is fixed). Empty: every module and filter passes.
KNOWN_FAILURES = {}

NON_FINITE = (float("nan"), float("inf"), float("-inf"), "nan", "inf", "-inf", "Infinity", "NaN")
HUGE = (1e300, -1e300, 10 ** 30, -(10 ** 30), 2 ** 63, "1e300", "99999999999999999999999")
UNICODE_DIGITS = ("\u0661\u0662", "\u0663", "\uff11\uff12", "\u0967\u0966", "\u0665.\u0665", "\u0662G")
SMALL = (0, -1, -0.0, 0.5, -0.5, 1, "0", "-1", "")
WRONG_TYPES = (True, False, None, [], {}, [1], {"a": 1}, "lots", " ", "1e3", "12abc", "\x00", "a" * 300)
PATHS = ("", "relative", "relative/dir", "./x", "../x", "/", "/proc/hostile", "/sys/hostile", "/dev/hostile",
         "/tmp/../etc/hostile", "//hostile", "/hostile\x00x", "/hostile\nx", "~", ".")


def _hostile_scalars():
    return st.one_of(
        st.sampled_from(NON_FINITE + HUGE + UNICODE_DIGITS + SMALL + WRONG_TYPES + PATHS),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
        st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=4),
        st.text(max_size=12),
    )


def _hostile_values():
    scalar = _hostile_scalars()
    return st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(st.text(max_size=8), scalar, max_size=2))


# Every option meets each of these (then Hypothesis draws more): the values the issue names.
CORE_VALUES = NON_FINITE + HUGE + UNICODE_DIGITS + (True, [], {"a": 1}, "", "relative", "/proc/hostile", -1)


def misspellings(option):
    """Near misses of an option name, as a user types them: hostcare_swap_sise, entrys, imgae."""
    names = {option[:-1], option + "s", option.replace("_", "")}
    if len(option) > 3:
        names.add(option[:1] + option[2] + option[1] + option[3:])
    return sorted(name for name in names if name and name != option)


UNKNOWN_KEYS = st.one_of(st.from_regex(r"\A[a-z][a-z_]{0,15}\Z"), st.text(min_size=1, max_size=10))


def _is_number_like(value):
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _must_refuse(value):
    """The number-like values no numeric option may accept: nan, inf, huge, non-ASCII digits."""
    if isinstance(value, float) and not math.isfinite(value):
        return "non-finite"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e18:
        return "huge"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
            return "non-finite"
        if any(char.isdigit() and not char.isascii() for char in value):
            return "non-ASCII digits"
        if text in ("1e300", "99999999999999999999999"):
            return "huge"
    return None


# --- outcomes --------------------------------------------------------------------------------------------------

class Tally:
    """Per module / filter: tried, refused cleanly, accepted, and the violations (kept, a few per kind)."""

    def __init__(self):
        self.rows = {}

    def row(self, name):
        return self.rows.setdefault(name, {"tried": 0, "refused": 0, "accepted": 0, "violations": []})

    def record(self, name, outcome, detail=None):
        row = self.row(name)
        row["tried"] += 1
        if outcome in ("refused", "accepted"):
            row[outcome] += 1
        else:
            row["violations"].append(f"{outcome}: {detail}")

    def markdown(self):
        lines = ["| module / filter | hostile inputs tried | refused cleanly | accepted (valid or passed through) "
                 "| violations |", "|---|---:|---:|---:|---:|"]
        for name in sorted(self.rows):
            row = self.rows[name]
            lines.append(f"| {name} | {row['tried']} | {row['refused']} | {row['accepted']} | {len(row['violations'])} |")
        for name in sorted(self.rows):
            kinds = {}
            for violation in self.rows[name]["violations"]:
                kinds.setdefault(violation.split(":", 1)[0], []).append(violation)
            for kind, examples in sorted(kinds.items()):
                options = sorted({example.split(": ", 1)[1].split("=", 1)[0] for example in examples})
                shown = ", ".join(options[:12]) + (f" and {len(options) - 12} more" if len(options) > 12 else "")
                lines.append(f"- {name}: {len(examples)} x {kind} ({shown}), "
                             f"e.g. {examples[0].split(': ', 1)[1][:200]}")
        return "\n".join(lines)


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    text = TALLY.markdown()
    report = os.environ.get("HOSTILE_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line("hostile inputs (tests/unit/plugins/test_hostile_inputs.py):")
            for line in text.splitlines():
                reporter.write_line(line)


class Budget:
    """The seconds one module or filter may take: an equal share of what the ones before it left unused."""

    pools = {"modules": [0.8 * TIME_BUDGET, len(MODULE_NAMES)], "filters": [0.2 * TIME_BUDGET, len(FILTER_NAMES)]}

    def __init__(self, pool):
        self.pool = self.pools[pool]
        self.started = time.monotonic()
        self.deadline = self.started + self.pool[0] / max(self.pool[1], 1)

    def spent(self):
        return time.monotonic() > self.deadline

    def close(self):
        self.pool[0] = max(self.pool[0] - (time.monotonic() - self.started), 0)
        self.pool[1] -= 1


def _check(name, violations_before):
    violations = TALLY.row(name)["violations"][violations_before:]
    if violations:
        distinct = list(dict.fromkeys(violations))
        pytest.fail(f"{name}: {len(violations)} hostile input(s) handled badly, e.g.:\n  " + "\n  ".join(distinct[:12]),
                    pytrace=False)


def _mark(name):
    if name in KNOWN_FAILURES:
        return pytest.param(name, marks=pytest.mark.xfail(reason=f"{name}: {KNOWN_FAILURES[name]}", strict=False))
    return name


# --- modules ---------------------------------------------------------------------------------------------------

class _Intercepted(Exception):
    pass


def module_contract(name):
    """(main, the keyword arguments its AnsibleModule gets): main() run once with AnsibleModule intercepted."""
    module = importlib.import_module(f"ansible_collections.hostcare.vps.plugins.modules.{name}")

    def intercept(_self, *args, **kwargs):
        raise _Intercepted(kwargs if not args else {"argument_spec": args[0], **kwargs})

    original = basic.AnsibleModule.__init__
    basic.AnsibleModule.__init__ = intercept
    try:
        module.main()
    except _Intercepted as intercepted:
        return module.main, intercepted.args[0]
    finally:
        basic.AnsibleModule.__init__ = original
    raise AssertionError(f"{name}: main() did not create an AnsibleModule")


def _baseline(name, spec, tmp):
    """Arguments under which the module runs harmlessly: paths in ``tmp``, Docker at a socket that does not exist."""
    missing_socket = os.path.join(tmp, "no-docker.sock")
    args = {}
    for option, option_spec in spec.items():
        if option_spec.get("type") == "path":
            args[option] = missing_socket if "socket" in option else os.path.join(tmp, option)
        elif option_spec.get("type") == "list" and option_spec.get("elements") == "path":
            args[option] = []
    per_module = {
        "bluegreen_release": {"app": "hostile", "image": "hostcare-hostile-absent:1", "container_port": 8080,
                              "nginx_test_command": ["true"], "nginx_reload_command": ["true"], "timeout": 5,
                              "drain_seconds": 0, "upstream_file": os.path.join(tmp, "upstream.conf")},
        "disk_pressure_facts": {"scan_paths": [os.path.join(tmp, "scan")], "skip_scan": True,
                                "scan_full_filesystems": 0, "time_budget": 2},
        "docker_log_config": {"path": os.path.join(tmp, "daemon.json")},
        "logrotate_entry": {"name": "hostile", "paths": [os.path.join(tmp, "logs", "app.log")]},
        "pg_settings_facts": {"method": "tcp", "host": "127.0.0.1", "port": 1, "timeout": 2},
        "postgresql_settings": {"method": "tcp", "host": "127.0.0.1", "port": 1, "timeout": 2, "socket_dir": None,
                                "settings": {"work_mem": "4MB"}},
        "swapfile": {"path": os.path.join(tmp, "swapfile"), "size": "16M", "state": "present"},
        "workload_facts": {"time_budget": 1, "pss": False, "systemd": False},
    }
    args.update({key: value for key, value in per_module.get(name, {}).items() if key in spec})
    for directory in ("scan", "logs", "state_dir", "protect_state_dir", "config_dir", "hourly_config_dir", "dir",
                      "cwd"):
        os.makedirs(os.path.join(tmp, directory), exist_ok=True)
    with open(os.path.join(tmp, "daemon.json"), "w", encoding="utf-8") as handle:
        handle.write("{}\n")
    with open(os.path.join(tmp, "main_config"), "w", encoding="utf-8") as handle:
        handle.write(f"include {os.path.join(tmp, 'config_dir')}\n")
    return args


def _host_state(tmp):
    """What a call must not change: the temporary tree (names, sizes, times), / and the active swap areas."""
    tree = []
    for root, dirs, files in os.walk(tmp):
        for entry in sorted(dirs + files):
            path = os.path.join(root, entry)
            with contextlib.suppress(OSError):
                status = os.lstat(path)
                tree.append((path, status.st_size, status.st_mtime_ns, status.st_mode))
    with open("/proc/swaps", encoding="utf-8") as handle:
        swaps = handle.read()
    return sorted(tree), sorted(os.listdir("/")), swaps


def call_module(main, args, cwd):
    """(exit code, result dict) of main() in check mode; an exception propagates."""
    _forget_earlier_warnings()
    output = io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with patch_module_args({**args, "_ansible_check_mode": True}), contextlib.redirect_stdout(output):
            try:
                main()
            except SystemExit as exit_info:
                code = exit_info.code
            else:
                code = "returned without exit_json/fail_json"
    finally:
        os.chdir(previous)
    return code, json.loads(output.getvalue() or "{}")


def _message(result):
    return str(result.get("msg", ""))


def _names(message, option, value=None):
    """Whether ``message`` names the option (or, for a dict value, one of its keys: the sub-option at fault)."""
    names = [option] + ([str(key) for key in value] if isinstance(value, Mapping) else [])
    return any(name in message or repr(name) in message for name in names)


def _numeric_option(option_spec):
    kind = option_spec.get("type", "str")
    default = option_spec.get("default")
    return kind in ("int", "float") or (kind == "raw" and _is_number_like(default) and not isinstance(default, str))


def targets(spec):
    """(option, sub-option or None, its spec) for every option and every sub-option of a dict option."""
    found = []
    for option in sorted(spec):
        found.append((option, None, spec[option]))
        for sub_option in sorted(spec[option].get("options") or {}):
            found.append((option, sub_option, spec[option]["options"][sub_option]))
    return found


def classify_module_call(name, main, spec, baseline, tmp, option, value, base_message, sub_option=None):
    """Run one hostile call (``option``, or ``option.sub_option``, set to ``value``) and record its outcome."""
    args = dict(baseline)
    if sub_option is not None:
        args[option] = {**(baseline.get(option) or {}), sub_option: value}
        target_spec, named = spec[option]["options"][sub_option], sub_option
        shown = f"{option}.{sub_option}={value!r}"[:160]
    else:
        args[option] = value if option in spec or value is not None else 1
        target_spec, named = spec.get(option), option
        shown = f"{option}={value!r}"[:160]
    before = _host_state(tmp)
    try:
        code, result = call_module(main, args, os.path.join(tmp, "cwd"))
    except Exception as error:  # pylint: disable=broad-except  # the point of the test
        TALLY.record(name, "exception", f"{shown}: {type(error).__name__}: {error} "
                                        f"({traceback.extract_tb(error.__traceback__)[-1].filename.split('/')[-1]})")
        return
    if _host_state(tmp) != before:
        TALLY.record(name, "changed the host", shown)
        return
    dumped = json.dumps(result)
    if "Traceback (most recent call last)" in dumped:
        TALLY.record(name, "traceback in the result", shown)
        return
    if target_spec is not None and target_spec.get("type") == "bool" and isinstance(value, bool):
        TALLY.record(name, "accepted")  # a valid value (fail_on_unavailable=true may fail, as documented)
        return
    failed = code != 0 or result.get("failed")
    message = _message(result)
    if failed and _names(message, named, value):
        TALLY.record(name, "refused")
        return
    if failed and message != base_message:
        TALLY.record(name, "failed without naming the option", f"{shown}: {message[:200]}")
        return
    if target_spec is not None and _numeric_option(target_spec) and _must_refuse(value):
        TALLY.record(name, f"accepted a {_must_refuse(value)} number", shown)
        return
    TALLY.record(name, "accepted")


@pytest.mark.parametrize("name", [_mark(name) for name in MODULE_NAMES])
def test_module_refuses_hostile_input_by_name(name):
    main, contract = module_contract(name)
    spec = contract.get("argument_spec") or {}
    tmp = tempfile.mkdtemp(prefix=f"hostcare-hostile-{name}-")
    try:
        baseline = _baseline(name, spec, tmp)
        before = _host_state(tmp)
        code, result = call_module(main, baseline, os.path.join(tmp, "cwd"))
        assert _host_state(tmp) == before, f"{name}: the harmless baseline call changed {tmp} in check mode"
        base_message = _message(result) if code != 0 or result.get("failed") else None
        violations_before = len(TALLY.row(name)["violations"])
        budget = Budget("modules")
        options = sorted(spec)
        choice = st.sampled_from(options) if options else st.nothing()
        known_or_unknown = st.one_of(choice, UNKNOWN_KEYS.filter(lambda key: key not in spec and not key.startswith("_")))

        @settings(max_examples=MODULE_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(option=known_or_unknown, value=_hostile_values())
        def hostile_call(option, value):
            if not budget.spent():
                classify_module_call(name, main, spec, baseline, tmp, option, value, base_message)

        # Value by value, so that every option meets the worst values first even when the budget runs out.
        for value in CORE_VALUES:
            for option, sub_option, _target_spec in targets(spec):
                if not budget.spent():
                    classify_module_call(name, main, spec, baseline, tmp, option, value, base_message, sub_option)
        for option in options:
            for misspelt in misspellings(option):
                if misspelt not in spec and not budget.spent():
                    classify_module_call(name, main, spec, baseline, tmp, misspelt, 1, base_message)
        hostile_call()  # pylint: disable=no-value-for-parameter
        budget.close()
        _check(name, violations_before)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- filters ---------------------------------------------------------------------------------------------------

def _filters():
    from ansible_collections.hostcare.vps.plugins.filter.audit import FilterModule as AuditFilters
    from ansible_collections.hostcare.vps.plugins.filter.pg import FilterModule as PgFilters
    from ansible_collections.hostcare.vps.plugins.filter.puma import FilterModule as PumaFilters
    from ansible_collections.hostcare.vps.plugins.filter.swap import FilterModule as SwapFilters

    found = {}
    for module in (AuditFilters, PgFilters, PumaFilters, SwapFilters):
        found.update(module().filters())
    return found


def _filter_cases():
    """name: (baseline positional input, baseline keyword arguments, {key: numeric?} of the input dict, kwargs)."""
    from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import DEFAULT_THRESHOLDS
    from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_budget import BUDGET_KEYS
    from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import INPUT_KEYS as PG_KEYS
    from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import INPUT_KEYS as PUMA_KEYS
    from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import NUMBER_INPUTS as PUMA_NUMBERS

    pg_numeric = {"memory", "cpus", "max_connections", "memory_share", "reserve", "measured_other_bytes", "os_reserve",
                  "memory_limit"}
    facts = {"available": True, "settings": {
        "shared_buffers": {"setting": "16384", "unit": "8kB", "val_in_bytes": 134217728, "context": "postmaster"},
        "max_connections": {"setting": "100", "context": "postmaster"},
        "work_mem": {"setting": "4096", "unit": "kB", "val_in_bytes": 4194304, "context": "user"}}}
    return {
        "pg_tune": ({"memory": "4GB", "cpus": 2}, {},
                    {key: key in pg_numeric for key in PG_KEYS + BUDGET_KEYS}, ()),
        "pg_diff": (facts, {"recommendation": "PG_TUNE"}, {"available": False, "settings": False}, ("recommendation",)),
        "puma_pool": ({"cpu_count": 2, "ram_mb": 4096}, {},
                      {key: key in PUMA_NUMBERS for key in PUMA_KEYS}, ("strict",)),
        "swap_size": ("auto", {"ram_bytes": 2 * 1024 ** 3}, {},
                      ("ram_bytes", "disk_available_bytes", "disk_used_bytes", "max_use_percent", "max_bytes",
                       "round_to_bytes", "max_disk_fraction")),
        "audit_findings": ({}, {"thresholds": {}}, {"cpu_count": True}, ("thresholds",)),
        "pg_recommendation": (facts, {"swap": {"memory": {"total_bytes": 4 * 1024 ** 3}, "container": {}}}, {},
                              ("swap", "instances", "workload", "memory_limit")),
        "_thresholds": sorted(DEFAULT_THRESHOLDS),
    }


def classify_filter_call(name, function, args, kwargs, key, value, numeric):
    shown = f"{key}={value!r}"[:160]
    try:
        function(*args, **kwargs)
    except AnsibleFilterError as error:
        message = str(error)
        # The whole input replaced: any clean refusal names the filter ("hostcare.vps.<name>: ...").
        if _names(message, key, value) or key == "_input":
            TALLY.record(name, "refused")
        else:
            TALLY.record(name, "failed without naming the key", f"{shown}: {message[:200]}")
        return
    except Exception as error:  # pylint: disable=broad-except  # the point of the test
        TALLY.record(name, "exception", f"{shown}: {type(error).__name__}: {error}"[:300])
        return
    if numeric and _must_refuse(value):
        TALLY.record(name, f"accepted a {_must_refuse(value)} number", shown)
        return
    TALLY.record(name, "accepted")


@pytest.mark.parametrize("name", [_mark(name) for name in FILTER_NAMES])
def test_filter_refuses_hostile_input_by_name(name):
    function = _filters()[name]
    cases = _filter_cases()
    base_input, base_kwargs, input_keys, keywords = cases[name]
    if base_kwargs.get("recommendation") == "PG_TUNE":
        base_kwargs = {"recommendation": _filters()["pg_tune"]({"memory": "4GB"})}
    threshold_keys = cases["_thresholds"]
    violations_before = len(TALLY.row(name)["violations"])
    budget = Budget("filters")
    where = ["input", "argument", "unknown", "whole"] + (["threshold"] if name == "audit_findings" else [])

    @settings(max_examples=FILTER_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(place=st.sampled_from(where), data=st.data(), value=_hostile_values())
    def hostile_call(place, data, value):
        # Every draw comes before the budget check: a run that returned before drawing what an earlier run with
        # the same choices drew is "inconsistent data generation" to Hypothesis (FlakyStrategyDefinition).
        kwargs = {key: (dict(item) if isinstance(item, Mapping) else item) for key, item in base_kwargs.items()}
        positional = dict(base_input) if isinstance(base_input, Mapping) else base_input
        numeric = False
        if place == "input" and input_keys:
            key = data.draw(st.sampled_from(sorted(input_keys)))
            positional[key], numeric = value, input_keys[key]
        elif place == "argument" and keywords:
            key = data.draw(st.sampled_from(keywords))
            kwargs[key] = value
            numeric = name == "swap_size"  # its keyword arguments are all sizes, percentages and fractions
        elif place == "threshold":
            key = data.draw(st.sampled_from(threshold_keys))
            kwargs["thresholds"] = {key: value}
            numeric = True
        elif place == "unknown":
            key = data.draw(UNKNOWN_KEYS.filter(lambda candidate: candidate not in keywords and candidate != "_input"))
            kwargs[key] = value
        else:
            key, positional, numeric = "_input", value, name == "swap_size"
        if not budget.spent():
            classify_filter_call(name, function, (positional,), kwargs, key, value, numeric)

    hostile_call()  # pylint: disable=no-value-for-parameter
    budget.close()
    _check(name, violations_before)
