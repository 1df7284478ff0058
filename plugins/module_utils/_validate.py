# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""One validator for every input a module, filter or role takes: numbers, sizes, durations, timeouts, ports,
paths and IP addresses.

Each function returns the value converted (int, float, str) or raises OptionError whose message names the
option, the value and what is allowed: ``timeout: must be a number of seconds greater than 0 and at most 3600,
got inf``. Checks are pure (no I/O) so that a caller validates everything before its first side effect.
Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import posixpath
import re

KIB = 1024
MIB = 1024 ** 2
GIB = 1024 ** 3
TIB = 1024 ** 4
PIB = 1024 ** 5

MAX_SIZE_BYTES = PIB
"""No size an option takes is larger: 1 PiB."""
MAX_TIMEOUT_SECONDS = 3600
"""Timeouts and time budgets: 0 < t <= one hour."""
MAX_DRAIN_SECONDS = 600
MAX_COUNT = 1_000_000
"""Counts (keep N, top N, retries) stay below this; larger is a typo, not a wish."""

KERNEL_DIRS = ("/proc", "/sys", "/dev")
"""Paths under these are the kernel's: never written by this collection."""

# ASCII only: Python's int() and float() accept Arabic-Indic and other Unicode digits; we refuse them.
_DECIMAL_RE = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$", re.ASCII)


class OptionError(ValueError):
    """An option value that cannot be used; the message names the option, the value and what is allowed."""


def _got(value):
    return f"got {value!r}" if not isinstance(value, float) else f"got {value}"


def _range_text(minimum, maximum, exclusive_minimum):
    unit_text = ""
    if minimum is not None and maximum is not None:
        low = "greater than" if exclusive_minimum else "at least"
        return f"{low} {minimum}{unit_text} and at most {maximum}{unit_text}"
    if minimum is not None:
        return f"{'greater than' if exclusive_minimum else 'at least'} {minimum}{unit_text}"
    if maximum is not None:
        return f"at most {maximum}{unit_text}"
    return "finite"


def number(option, value, minimum=None, maximum=None, exclusive_minimum=False, integer=False, unit="",
           what=None):
    """A finite int or float within [minimum, maximum] (``exclusive_minimum``: value > minimum).

    Accepts int, float and ASCII decimal strings ("5", "2.5"); refuses bool, nan, inf, Unicode digits, other types.
    With ``integer`` a float must be whole and the result is an int.
    """
    kind = what or ("a whole number" if integer else "a number")
    if unit:
        kind = f"{kind} of {unit}"
    allowed = f"must be {kind} {_range_text(minimum, maximum, exclusive_minimum)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise OptionError(f"{option}: {allowed}, got {type(value).__name__} {value!r}")
    if isinstance(value, str):
        if not _DECIMAL_RE.match(value):
            raise OptionError(f"{option}: {allowed}, got {value!r}")
        text = value.strip()
        value = int(text) if re.match(r"^[+-]?\d+$", text, re.ASCII) else float(text)
    shown = value  # 1e300 is shown as given, not as its 301 digits
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OptionError(f"{option}: {allowed}, {_got(value)}")
        if integer:
            if not value.is_integer():
                raise OptionError(f"{option}: {allowed}, {_got(value)}")
            value = int(value)
    too_low = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        raise OptionError(f"{option}: {allowed}, {_got(shown)}")
    return value


def integer(option, value, minimum=0, maximum=MAX_COUNT, unit=""):
    """A whole number within [minimum, maximum] (counts, percentages, priorities)."""
    return number(option, value, minimum=minimum, maximum=maximum, integer=True, unit=unit)


def seconds(option, value, maximum=MAX_TIMEOUT_SECONDS, allow_zero=False):
    """A duration in seconds: 0 < t <= maximum (0 <= t with ``allow_zero``)."""
    return number(option, value, minimum=0, maximum=maximum, exclusive_minimum=not allow_zero, unit="seconds")


def timeout(option, value, maximum=MAX_TIMEOUT_SECONDS):
    """A timeout or time budget: 0 < t <= one hour."""
    return seconds(option, value, maximum=maximum)


def port(option, value):
    """A TCP port, 1-65535."""
    return number(option, value, minimum=1, maximum=65535, integer=True, what="a TCP port")


def percentage(option, value, minimum=0, maximum=100):
    """A percentage within [minimum, maximum]."""
    return number(option, value, minimum=minimum, maximum=maximum, what="a percentage")


def size(option, value, minimum=0, maximum=MAX_SIZE_BYTES):
    """Bytes from an int or a size string ("512MB", "2G"), within [minimum, maximum] (default at most 1 PiB)."""
    # Local import: _units imports OptionError from here.
    from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size, parse_size

    num_bytes = parse_size(value, option)
    if num_bytes < minimum or num_bytes > maximum:
        raise OptionError(f"{option}: must be a size between {format_size(minimum)} and {format_size(maximum)}, "
                          f"got {value!r}")
    return num_bytes


def absolute_path(option, value, written=True):
    """An absolute, normalised path without control characters.

    ``written`` (a path this collection writes or creates): also refuses "/" itself and anything under /proc, /sys,
    /dev. Returns the path unchanged (a normalised path is required, not silently produced, so that the user sees
    exactly what will be touched).
    """
    if not isinstance(value, str) or not value:
        raise OptionError(f"{option}: must be an absolute path, got {value!r}")
    if not value.startswith("/"):
        raise OptionError(f"{option}: must be an absolute path (starting with /), got {value!r}")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise OptionError(f"{option}: must not contain control characters (newline, tab, NUL), got {value!r}")
    if posixpath.normpath(value) != (value.rstrip("/") or "/") or "//" in value:
        raise OptionError(f"{option}: must be a normalised path (no '.', '..' or '//'), got {value!r}")
    if written:
        if value.rstrip("/") == "":
            raise OptionError(f"{option}: must not be the root directory, got {value!r}")
        if any(value == top or value.startswith(top + "/") for top in KERNEL_DIRS):
            raise OptionError(f"{option}: {value!r} is in a kernel filesystem ({', '.join(KERNEL_DIRS)}); "
                              "give a path on a real filesystem")
    return value


_VERSION_RE = re.compile(r"^\s*(\d{1,6}(?:\.\d{1,6}){0,3})\s*$", re.ASCII)


def version(option, value):
    """A version such as "7.2" or "7.1.3" (also 7 or 7.2 as numbers) as a tuple of ints: (7, 1, 3).

    Versions are strings: a YAML 7.10 is the number 7.1, so users should quote them.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
            isinstance(value, float) and not math.isfinite(value)):
        match = None
    else:
        match = _VERSION_RE.match(str(value))
    if not match:
        raise OptionError(f"{option}: must be a version such as \"7.2\" or \"7.1.3\" (ASCII digits and dots; "
                          f"quote it in YAML), {_got(value)}")
    return tuple(int(part) for part in match.group(1).split("."))


def ip_address(option, value):
    """An IPv4 or IPv6 address (no host names, no networks); returns it as given."""
    if not isinstance(value, str):
        raise OptionError(f"{option}: must be an IP address such as 127.0.0.1 or ::1, got {value!r}")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise OptionError(f"{option}: must be an IP address such as 127.0.0.1 or ::1, got {value!r}") from None
    return value


def choice(option, value, allowed):
    """One of ``allowed``."""
    if value not in allowed:
        raise OptionError(f"{option}: must be one of {', '.join(str(item) for item in allowed)}, got {value!r}")
    return value


def closest_name(name, known):
    """The known name closest to ``name`` (for 'did you mean'), or None.

    A shortened name counts too when only one known name starts with it: ram -> ram_bytes.
    """
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if matches:
        return matches[0]
    longer = [candidate for candidate in known if len(name) >= 3 and candidate.startswith(name)]
    return longer[0] if len(longer) == 1 else None


def unknown_names(names, known, what="option"):
    """Messages for each name not in ``known``, each naming the closest known one."""
    messages = []
    for name in sorted(set(names) - set(known)):
        suggestion = closest_name(name, known)
        hint = f"; did you mean {suggestion}?" if suggestion else f"; known: {', '.join(sorted(known))}"
        messages.append(f"{name}: unknown {what}{hint}")
    return messages
