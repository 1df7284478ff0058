# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""daemon.json log options within what dockerd accepts, the file's encoding and shape, dockerd --validate."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _docker_daemon_config as config
from ansible_collections.hostcare.vps.plugins.module_utils._docker_daemon_config import DaemonJsonError


@pytest.mark.parametrize("max_size, size_bytes", [
    ("10m", 10_000_000), ("1k", 1000), ("50M", 50_000_000), ("1g", 10 ** 9), ("1000000g", 10 ** 15),
])
def test_sizes_as_dockerd_reads_them(max_size, size_bytes):
    # go-units FromHumanSize: decimal units.
    assert config.docker_size_bytes(max_size) == size_bytes
    assert config.docker_log_opts(max_size, 3, True)["max-size"] == max_size


@pytest.mark.parametrize("max_size, message", [
    # The bug: dockerd started with it, then every new container failed "max-size must be a positive number".
    ("99999999999999999999999g", "max_size='99999999999999999999999g' must be at most 1000000g (10^15 bytes"),
    ("1000001g", "must be at most 1000000g"),
    ("9223372036854775807k", "must be at most 1000000g"),
    ("10", "max_size='10' must be a size such as 10m, 50m or 1g"),
    ("0m", "max_size='0m' must be a size"),
    ("-1m", "must be a size"),
    ("1.5g", "must be a size"),
    ("10t", "must be a size"),
    ("10 m", "must be a size"),
    ("\u0661\u0660m", "must be a size"),  # Arabic-Indic digits: Python's int() reads them, dockerd does not
    ("", "must be a size"),
    ("nan", "must be a size"),
    ("inf", "must be a size"),
    (10, "max_size=10 must be a size"),
    (1e300, "must be a size"),
])
def test_max_size_beyond_what_dockerd_accepts_is_refused(max_size, message):
    with pytest.raises(DaemonJsonError) as error:
        config.docker_log_opts(max_size, 3, True)
    assert message in str(error.value)


@pytest.mark.parametrize("max_file, message", [
    (0, "max_file=0 must be a whole number of files from 1 to 1000"),
    (-1, "max_file=-1 must be a whole number"),
    (1001, "max_file=1001 must be a whole number"),
    (10 ** 30, "must be a whole number of files from 1 to 1000"),
    (True, "max_file=True must be a whole number"),
    (float("nan"), "must be a whole number"),
    (float("inf"), "must be a whole number"),
    (2.5, "must be a whole number"),
    ("\u0663", "must be a whole number"),
])
def test_max_file_range(max_file, message):
    with pytest.raises(DaemonJsonError) as error:
        config.docker_log_opts("10m", max_file, False)
    assert message in str(error.value)


def test_max_file_bounds_are_accepted():
    assert config.docker_log_opts("10m", 1, False) == {"max-size": "10m", "max-file": "1", "compress": "false"}
    assert config.docker_log_opts("10m", 1000, True)["max-file"] == "1000"


def test_compress_with_a_single_file_is_refused():
    # json-file: "compress cannot be true when max-file is less than 2"; local: refused at start.
    with pytest.raises(DaemonJsonError, match="compress=true needs max_file 2 or more"):
        config.docker_log_opts("10m", 1, True)


@pytest.mark.parametrize("data, message", [
    (b'{"log-level": "warn"}\xff', "it is not UTF-8 text (byte 0xff at offset 21)"),
    ("{\"x\": \"caf\u00e9\"}".encode("latin-1"), "it is not UTF-8 text (byte 0xe9"),
])
def test_a_file_that_is_not_utf8_is_refused(data, message):
    with pytest.raises(DaemonJsonError) as error:
        config.decode_daemon_json(data)
    assert message in str(error.value)


def test_decoding():
    assert config.decode_daemon_json(None) is None
    assert config.decode_daemon_json('{"x": "caf\u00e9"}'.encode()) == '{"x": "caf\u00e9"}'


@pytest.mark.parametrize("text, message", [
    ('{"max-concurrent-downloads": NaN}', "it is not valid JSON (NaN is not JSON)"),
    ('{"x": Infinity}', "it is not valid JSON (Infinity is not JSON)"),
    ('"a string"', "it is not a JSON object"),
    ("null", "it is not a JSON object"),
    ("42", "it is not a JSON object"),
    ("\ufeff{}", "it is not valid JSON"),
])
def test_merge_refuses_what_dockerd_would_not_read(text, message):
    with pytest.raises(DaemonJsonError) as error:
        config.merge_daemon_json(text, "json-file", {"max-size": "10m"})
    assert message in str(error.value)


@pytest.mark.parametrize("returncode, output, expected", [
    (0, "configuration OK\n", (True, None)),
    (1, "Status: unknown flag: --validate\nSee 'dockerd --help'., Code: 125\n", (False, None)),
    (1, "unable to configure the Docker daemon with file daemon.json: invalid character '}'\n",
     (True, "unable to configure the Docker daemon with file daemon.json: invalid character '}'")),
    (1, "", (True, "exit code 1")),
])
def test_validate_result(returncode, output, expected):
    assert config.validate_result(returncode, output) == expected


def test_dockerd_validate_with_the_installed_dockerd(tmp_path):
    """The dockerd of this host: Docker 23+ checks the text, an older one says it cannot (no --validate)."""
    dockerd = config.dockerd_path()
    if dockerd is None:
        pytest.skip("dockerd is not installed")
    checked, error = config.dockerd_validate('{"log-driver": "json-file", "log-opts": {"max-size": "10m"}}\n')
    assert error is None
    checked_bad, error_bad = config.dockerd_validate('{"log-driver": 42}\n')
    assert checked_bad == checked
    assert (error_bad is not None) == checked


def _fake_dockerd(tmp_path, script):
    # Stands for a Docker 23+ dockerd on hosts whose dockerd predates --validate.
    path = tmp_path / "dockerd"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_dockerd_validate_reports_the_refusal_without_the_staged_path(tmp_path):
    dockerd = _fake_dockerd(tmp_path, 'echo "unable to configure the Docker daemon with file $3: bad max-size" >&2\nexit 1\n')
    checked, error = config.dockerd_validate("{}\n", dockerd)
    assert checked is True
    assert error == "unable to configure the Docker daemon with file daemon.json: bad max-size"


def test_dockerd_validate_sees_the_merged_text(tmp_path):
    seen = tmp_path / "seen.json"
    dockerd = _fake_dockerd(tmp_path, f'[ "$1 $2" = "--validate --config-file" ] || exit 2\ncp "$3" {seen}\necho "configuration OK"\n')
    assert config.dockerd_validate('{"a": 1}\n', dockerd) == (True, None)
    assert seen.read_text() == '{"a": 1}\n'


def test_dockerd_validate_without_dockerd(tmp_path):
    missing = str(tmp_path / "no-dockerd")
    assert not os.path.exists(missing)
    assert config.dockerd_validate("{}\n", missing) == (False, None)
