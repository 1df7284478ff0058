# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one validator: each refusal names the option, the value and what is allowed."""

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _validate as validate
from ansible_collections.hostcare.vps.plugins.module_utils._units import SizeError, parse_size


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e300, 0, -1, True, None, [], "1e300",
                                   "\u0663", "five", ""])
def test_timeout_refuses_hostile_values_naming_the_option(value):
    with pytest.raises(validate.OptionError) as error:
        validate.timeout("timeout", value)
    assert str(error.value).startswith("timeout: must be a number of seconds greater than 0 and at most 3600")


@pytest.mark.parametrize("value, expected", [(5, 5), (2.5, 2.5), ("30", 30), (" 0.5 ", 0.5), (3600, 3600)])
def test_timeout_accepts_finite_numbers_in_range(value, expected):
    assert validate.timeout("timeout", value) == expected


def test_integer_refuses_fractions_and_accepts_whole_floats():
    assert validate.integer("keep", 3.0) == 3
    with pytest.raises(validate.OptionError, match=r"^keep: must be a whole number at least 0 and at most 1000000, got 2.5$"):
        validate.integer("keep", 2.5)


def test_port_range():
    assert validate.port("port", "8080") == 8080
    for value in (0, 65536, "\u0668\u0660", 80.5):
        with pytest.raises(validate.OptionError, match="^port: must be a TCP port at least 1 and at most 65535"):
            validate.port("port", value)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1, "99999999999999999999999g", "2Gb", "\u0662G", "lots"])
def test_size_refuses(value):
    with pytest.raises(validate.OptionError) as error:
        validate.size("max_size", value)
    assert str(error.value).startswith("max_size: ")


def test_size_is_bounded_by_one_pib_and_parse_size_errors_are_option_errors():
    assert validate.size("max_size", "1P") == validate.PIB
    with pytest.raises(validate.OptionError, match="between 0 B and"):
        validate.size("max_size", "2P")
    assert issubclass(SizeError, validate.OptionError)
    with pytest.raises(SizeError, match="^memory: must be a finite non-negative number of bytes, got inf$"):
        parse_size(float("inf"), "memory")


@pytest.mark.parametrize("value, reason", [
    ("", "must be an absolute path"),
    (None, "must be an absolute path"),
    ("relative/dir", "starting with /"),
    ("/etc/../etc/x", "normalised"),
    ("/etc//x", "normalised"),
    ("/etc/x\n", "control characters"),
    ("/", "root directory"),
    ("/proc/sys/vm/x", "kernel filesystem"),
    ("/sys", "kernel filesystem"),
    ("/dev/sda", "kernel filesystem"),
])
def test_written_paths(value, reason):
    with pytest.raises(validate.OptionError) as error:
        validate.absolute_path("config_dir", value)
    assert str(error.value).startswith("config_dir: ") and reason in str(error.value)


def test_read_paths_may_be_kernel_paths():
    assert validate.absolute_path("socket_path", "/run/docker.sock", written=False) == "/run/docker.sock"
    assert validate.absolute_path("proc_root", "/proc", written=False) == "/proc"
    assert validate.absolute_path("dir", "/etc/logrotate.d/") == "/etc/logrotate.d/"


def test_ip_address():
    assert validate.ip_address("bind_address", "::1") == "::1"
    with pytest.raises(validate.OptionError, match="^bind_address: must be an IP address .*got 'not-an-ip'$"):
        validate.ip_address("bind_address", "not-an-ip")


def test_unknown_names_suggest_the_closest_known_one():
    known = ["hostcare_swap_size", "hostcare_swap_file", "hostcare_swap_state"]
    assert validate.unknown_names(["hostcare_swap_sise", "hostcare_swap_size"], known, "variable") == [
        "hostcare_swap_sise: unknown variable; did you mean hostcare_swap_size?"]
    assert validate.unknown_names(["zzz"], ["a", "b"]) == ["zzz: unknown option; known: a, b"]


def test_choice():
    assert validate.choice("state", "present", ("present", "absent")) == "present"
    with pytest.raises(validate.OptionError, match="^state: must be one of present, absent, got 'gone'$"):
        validate.choice("state", "gone", ("present", "absent"))


def test_a_huge_whole_float_is_shown_as_given_not_as_its_digits():
    with pytest.raises(validate.OptionError, match=r"^timeout: must be a whole number of seconds at least 1 and at most 3600, got 1e\+300$"):
        validate.number("timeout", 1e300, minimum=1, maximum=3600, integer=True, unit="seconds")


@pytest.mark.parametrize("value, expected", [("7.1.3", (7, 1, 3)), ("7.2", (7, 2)), (" 8 ", (8,)), (7, (7,)),
                                             (7.2, (7, 2)), (8.0, (8, 0))])
def test_version_accepts_strings_and_plain_numbers(value, expected):
    assert validate.version("rails_version", value) == expected


@pytest.mark.parametrize("value", ["7.x", "", "v7", "7..1", "\u0667.\u0662", float("nan"), float("inf"), -7, True, None,
                                   [7], "1.2.3.4.5"])
def test_version_refuses_what_is_not_a_version(value):
    with pytest.raises(validate.OptionError, match=r'^rails_version: must be a version such as "7.2" or "7.1.3"'):
        validate.version("rails_version", value)


def test_closest_name_also_completes_a_shortened_name_when_only_one_fits():
    assert validate.closest_name("ram", ("ram_bytes", "max_bytes")) == "ram_bytes"
    assert validate.closest_name("max", ("max_bytes", "max_use_percent")) is None
    assert validate.closest_name("ra", ("ram_bytes",)) is None
