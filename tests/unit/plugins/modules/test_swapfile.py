# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.swapfile against a fake host: real files in a temporary directory, fake /proc files and fake
fallocate/mkswap/swapon/swapoff commands (the real ones would change this machine's swap)."""

from __future__ import annotations

import contextlib
import os
import stat
from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic

from ansible_collections.hostcare.vps.plugins.module_utils._disk import filesystem_usage
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import recommend_swap_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._swapfile import auto_swap_size
from ansible_collections.hostcare.vps.plugins.modules import swapfile
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


MIB = 1024 ** 2
PAGE = os.sysconf("SC_PAGE_SIZE")
SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


class FakeHost:
    """/etc/fstab, /proc/swaps, /proc/meminfo and mountinfo as files; the swap commands act on them."""

    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "data")
        os.mkdir(self.dir)
        self.path = os.path.join(self.dir, "swapfile")
        self.fstab = os.path.join(root, "fstab")
        self.swaps = os.path.join(root, "swaps")
        self.meminfo = os.path.join(root, "meminfo")
        self.mountinfo = os.path.join(root, "mountinfo")
        self.write(self.fstab, "UUID=abc / ext4 defaults 0 1\n/dev/vdb1 none swap sw 0 0\n")
        self.write(self.swaps, SWAPS_HEADER)
        self.set_memory(available=4096 * MIB)
        self.set_fstype("ext4")
        self.commands = []
        self.fallocate_rc = 1
        self.swapon_error = None
        self.permitted = True

    @staticmethod
    def write(path, text):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    @staticmethod
    def read(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def set_memory(self, available):
        self.write(self.meminfo, f"MemTotal: {8192 * 1024} kB\nMemAvailable: {available // 1024} kB\n")

    def set_fstype(self, fstype):
        self.write(self.mountinfo, f"1 0 8:1 / / rw,relatime - {fstype} /dev/sda1 rw\n")

    def activate(self, path, size, used=0, priority=-2):
        line = f"{path}\tfile\t{size // 1024 - PAGE // 1024}\t{used // 1024}\t{priority}\n"
        self.write(self.swaps, self.read(self.swaps) + line)

    def deactivate(self, path):
        lines = [line for line in self.read(self.swaps).splitlines(keepends=True) if not line.startswith(path + "\t")]
        self.write(self.swaps, "".join(lines))

    def make_swapfile(self, size, mode=0o600):
        with open(self.path, "wb") as handle:
            handle.write(bytes(size))
        self.mkswap(self.path)
        os.chmod(self.path, mode)

    @staticmethod
    def mkswap(path):
        with open(path, "r+b") as handle:
            handle.seek(PAGE - 10)
            handle.write(b"SWAPSPACE2")

    def run_command(self, argv, **_kwargs):
        name = os.path.basename(argv[0])
        self.commands.append([name] + argv[1:])
        path = argv[-1]
        if name == "fallocate":
            if self.fallocate_rc == 0:  # allocate real blocks, as fallocate(1) does
                size = int(argv[2])
                with open(path, "r+b") as handle:
                    handle.seek(0, os.SEEK_END)
                    handle.write(bytes(max(0, size - handle.tell())))
                return 0, "", ""
            return self.fallocate_rc, "", "fallocate: fallocate failed: Operation not supported"
        if name == "mkswap":
            self.mkswap(path)
            return 0, "Setting up swapspace version 1", ""
        if name == "swapon":
            if self.swapon_error:
                return 255, "", f"swapon: {path}: swapon failed: {self.swapon_error}"
            priority = int(argv[2]) if argv[1] == "-p" else -2
            self.activate(path, os.stat(path).st_size, priority=priority)
            return 0, "", ""
        if name == "swapoff":
            self.deactivate(path)
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def host(tmp_path):
    fake = FakeHost(str(tmp_path))
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(swapfile, "FSTAB", fake.fstab))
        stack.enter_context(mock.patch.object(swapfile, "PROC_SWAPS", fake.swaps))
        stack.enter_context(mock.patch.object(swapfile, "PROC_MEMINFO", fake.meminfo))
        stack.enter_context(mock.patch.object(swapfile, "PROC_MOUNTINFO", fake.mountinfo))
        stack.enter_context(mock.patch.object(
            swapfile, "probe_swap_permission",
            side_effect=lambda: (True, "") if fake.permitted else (False, "swapoff(2): Operation not permitted")))

        def run_command(argv, **kwargs):  # looked up at each call: a test may replace fake.run_command
            return fake.run_command(argv, **kwargs)

        stack.enter_context(mock.patch.object(basic.AnsibleModule, "run_command", side_effect=run_command))
        stack.enter_context(mock.patch.object(basic.AnsibleModule, "get_bin_path",
                                              side_effect=lambda name, *a, **kw: f"/usr/sbin/{name}"))
        if os.geteuid() != 0:  # the module makes the file root's; as a normal user, pretend
            stack.enter_context(mock.patch.object(os, "fchown"))
            stack.enter_context(mock.patch.object(os, "chown"))
        yield fake


def run(capsys, args):
    args = {"max_disk_use_percent": 100, **args}
    return run_module(swapfile.main, capsys, args)


def snapshot(host):
    files = sorted(os.listdir(host.dir))
    sizes = {name: os.stat(os.path.join(host.dir, name)).st_size for name in files}
    return host.read(host.fstab), host.read(host.swaps), sizes


def test_check_mode_reports_the_creation_and_changes_nothing(capsys, host):
    before = snapshot(host)
    code, result = run(capsys, {"path": host.path, "size": "4M", "priority": 3, "_ansible_check_mode": True,
                                "_ansible_diff": True})
    assert code == 0
    assert result["changed"] is True
    assert result["actions"] == ["create", "swapon", "fstab"]
    assert result["size_bytes"] == 4 * MIB
    assert result["active"] is True and result["priority"] == 3
    assert result["msg"] == f"{host.path} would be set to 4.0 MiB (create, swapon, fstab)"
    assert result["diff"][0]["before"] == f"{host.path}: absent\n"
    assert "  priority: 3\n" in result["diff"][0]["after"]
    assert result["diff"][1]["after"].endswith(f"{host.path} none swap sw,nofail,pri=3 0 0\n")
    assert snapshot(host) == before
    assert host.commands == []


def test_creates_activates_and_persists_once(capsys, host):
    code, result = run(capsys, {"path": host.path, "size": "4M"})
    assert code == 0, result
    assert result["changed"] is True
    assert result["actions"] == ["create", "swapon", "fstab"]
    assert result["method"] == "zero-fill"  # the fake fallocate is not supported
    assert result["filesystem"] == {"mount": "/", "fstype": "ext4"}
    st = os.stat(host.path)
    assert st.st_size == 4 * MIB and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_blocks * 512 >= 4 * MIB
    assert os.listdir(host.dir) == ["swapfile"]  # no temporary file left
    assert [command[0] for command in host.commands] == ["fallocate", "mkswap", "swapon"]
    assert host.commands[1] == ["mkswap", os.path.join(host.dir, ".swapfile.hostcare-new")]
    assert host.read(host.fstab).splitlines()[-1] == f"{host.path} none swap sw,nofail 0 0"
    assert "diff" not in result

    host.commands.clear()
    code, result = run(capsys, {"path": host.path, "size": "4M"})
    assert code == 0 and result["changed"] is False and result["actions"] == []
    assert host.commands == []


def test_grows_an_active_file_after_swapping_only_it_off(capsys, host):
    host.make_swapfile(2 * MIB)
    host.activate(host.path, 2 * MIB, used=MIB)
    host.activate("/dev/zram0", 64 * MIB)
    host.fallocate_rc = 0
    code, result = run(capsys, {"path": host.path, "size": "6M", "_ansible_diff": True})
    assert code == 0, result
    assert result["actions"] == ["swapoff", "resize", "swapon", "fstab"]
    assert result["previous_size_bytes"] == 2 * MIB and result["size_bytes"] == 6 * MIB
    assert [command[0] for command in host.commands] == ["swapoff", "fallocate", "mkswap", "swapon"]
    assert host.commands[0] == ["swapoff", host.path]
    assert os.stat(host.path).st_size == 6 * MIB
    assert "/dev/zram0" in host.read(host.swaps)
    assert result["method"] == "fallocate"
    assert "  size: 2.0 MiB (2097152 bytes)" in result["diff"][0]["before"]
    assert "  size: 6.0 MiB (6291456 bytes)" in result["diff"][0]["after"]


def test_shrinks_an_inactive_file(capsys, host):
    host.make_swapfile(8 * MIB)
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 0, result
    assert result["actions"] == ["resize", "swapon", "fstab"]
    assert os.stat(host.path).st_size == 2 * MIB


def test_refuses_to_resize_when_ram_cannot_take_the_used_swap(capsys, host):
    host.make_swapfile(2 * MIB)
    host.activate(host.path, 2 * MIB, used=MIB)
    host.set_memory(available=64 * MIB)
    before = snapshot(host)
    code, result = run(capsys, {"path": host.path, "size": "6M"})
    assert code == 1
    assert result["msg"].startswith(f"hostcare.vps.swapfile: refusing to swap off {host.path} to resize it from "
                                    f"2.0 MiB to 6.0 MiB: it holds 1.0 MiB of swapped-out memory")
    assert snapshot(host) == before and host.commands == []


def test_fixes_permissions_of_an_active_file(capsys, host):
    host.make_swapfile(2 * MIB, mode=0o644)
    host.activate(host.path, 2 * MIB)
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 0 and result["actions"] == ["permissions", "fstab"]
    assert stat.S_IMODE(os.stat(host.path).st_mode) == 0o600


def test_refusals_change_nothing(capsys, host):
    host.set_fstype("overlay")
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 1 and "it is on / (overlay)" in result["msg"]
    host.set_fstype("ext4")
    host.permitted = False
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 1 and "does not permit swapon/swapoff (swapoff(2): Operation not permitted)" in result["msg"]
    host.permitted = True
    code, result = run(capsys, {"path": host.path, "size": "2M", "max_disk_use_percent": 1})
    assert code == 1 and "max_disk_use_percent is 1 %" in result["msg"] or "only" in result["msg"]
    with open(host.path, "w", encoding="utf-8") as handle:
        handle.write("precious" * 1000)
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 1 and "it exists and is not a swap area" in result["msg"]
    assert host.read(host.path) == "precious" * 1000
    assert host.commands == []


def test_fallocate_without_room_fails_without_writing_zeros(capsys, host):
    host.fallocate_rc = 1
    original = host.run_command

    def no_space(argv, **kwargs):
        if os.path.basename(argv[0]) == "fallocate":
            host.commands.append(["fallocate"])
            return 1, "", "fallocate: fallocate failed: No space left on device"
        return original(argv, **kwargs)

    host.run_command = no_space
    before = snapshot(host)
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 1
    assert result["msg"].startswith("hostcare.vps.swapfile: could not create the swap file: /usr/sbin/fallocate -l ")
    assert result["msg"].endswith("failed (rc 1): fallocate: fallocate failed: No space left on device. "
                                  "Nothing was left behind.")
    assert snapshot(host) == before


def test_swapon_failure_after_create_removes_the_new_file(capsys, host):
    host.swapon_error = "Operation not permitted"
    before = snapshot(host)
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 1
    assert "swapon is not permitted here" in result["msg"]
    assert result["msg"].endswith("The new file was removed; nothing else was changed.")
    assert snapshot(host) == before


def test_retries_with_zeros_when_the_kernel_finds_holes_after_fallocate(capsys, host):
    host.fallocate_rc = 0
    host.swapon_error = "Invalid argument"
    original = host.run_command

    def swapon_once_fails(argv, **kwargs):
        result = original(argv, **kwargs)
        if os.path.basename(argv[0]) == "swapon":
            host.swapon_error = None
        return result

    host.run_command = swapon_once_fails
    code, result = run(capsys, {"path": host.path, "size": "2M"})
    assert code == 0, result
    assert result["method"] == "zero-fill"
    assert [command[0] for command in host.commands] == ["fallocate", "mkswap", "swapon", "mkswap", "swapon"]


def test_absent_removes_only_this_swap(capsys, host):
    host.make_swapfile(2 * MIB)
    host.activate(host.path, 2 * MIB)
    host.activate("/dev/vdb1", 64 * MIB)
    host.write(host.fstab, host.read(host.fstab) + f"{host.path} none swap sw 0 0\n" * 2)
    code, result = run(capsys, {"path": host.path, "state": "absent", "_ansible_diff": True})
    assert code == 0, result
    assert result["actions"] == ["swapoff", "fstab", "remove"]
    assert result["active"] is False and result["size_bytes"] is None and result["fstab_line"] is None
    assert not os.path.exists(host.path)
    assert host.read(host.fstab) == "UUID=abc / ext4 defaults 0 1\n/dev/vdb1 none swap sw 0 0\n"
    assert "/dev/vdb1" in host.read(host.swaps)
    assert result["diff"][0]["after"] == f"{host.path}: absent\n"
    code, result = run(capsys, {"path": host.path, "state": "absent"})
    assert code == 0 and result["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"size": "2Gb"}, "size: '2Gb' is not a valid size"),
    ({"size": "-1"}, "size: '-1' is not a valid size"),
    ({"size": "100K"}, "too small"),
    ({"size": "2M", "priority": 40000}, "priority: must be a whole number at least 0 and at most 32767, got 40000"),
    ({"size": "2M", "priority": -1}, "priority: must be a whole number at least 0 and at most 32767, got -1"),
    ({"size": "2M", "max_disk_use_percent": 0}, "max_disk_use_percent: must be a whole number at least 1 and at most 100"),
    ({"size": "2M", "max_disk_use_percent": 101}, "max_disk_use_percent: must be a whole number at least 1 and at most 100"),
    ({"size": "inf"}, "size: 'inf' is not a valid size"),
    ({"size": "nan"}, "size: 'nan' is not a valid size"),
    ({"size": "1e300"}, "size: '1e300' is not a valid size"),
    ({"size": "2P"}, "size: must be a size between 0 B and 1024.0 TiB, got '2P'"),
    ({"size": "\u0661\u0662M"}, "is not a valid size"),
    ({"size": "2M", "priority": float("inf")}, "priority: must be a whole number at least 0 and at most 32767, got inf"),
    ({"size": "2M", "priority": "\u0665"}, "priority: must be a whole number at least 0 and at most 32767"),
    ({"size": "2M", "max_disk_use_percent": float("nan")}, "max_disk_use_percent: must be a whole number at least 1 and at most 100, got nan"),
    ({"size": "2M", "max_disk_use_percent": "1e300"}, "max_disk_use_percent: must be a whole number at least 1 and at most 100"),
    ({}, "state is present but all of the following are missing: size"),
])
def test_bad_arguments_fail_before_looking_at_the_host(capsys, host, args, message):
    code, result = run(capsys, {"path": host.path, **args})
    assert code == 1
    assert message in result["msg"]
    assert host.commands == []


@pytest.mark.parametrize("path, message", [
    ("swapfile", "path: must be an absolute path (starting with /), got 'swapfile'"),
    ("", "path: must be an absolute path, got ''"),
    ("/proc/swapfile", "path: '/proc/swapfile' is in a kernel filesystem"),
    ("/sys/swapfile", "path: '/sys/swapfile' is in a kernel filesystem"),
    ("/dev/shm/swapfile", "path: '/dev/shm/swapfile' is in a kernel filesystem"),
    ("/", "path: must not be the root directory"),
    ("/srv/../swapfile", "path: must be a normalised path"),
    ("/srv/swap/", "path: must be a file path, without a trailing slash"),
    ("/swap\nfile", "path: must not contain control characters"),
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_bad_paths_are_refused_before_looking_at_the_host(capsys, host, path, message, state):
    """Relative, empty and /proc paths crashed the writers: now a message naming the option, nothing touched."""
    before = snapshot(host)
    code, result = run(capsys, {"path": path, "size": "2M", "state": state})
    assert code == 1
    assert message in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert "Traceback" not in result.get("exception", "")
    assert snapshot(host) == before and host.commands == []


def test_size_auto_is_sized_by_the_module_with_the_one_rule(capsys, host):
    """The RAM (MemTotal) and the filesystem of the file, read by the module, through the audit's computation."""
    host.write(host.meminfo, f"MemTotal: {3 * 1024 * 1024} kB\nMemAvailable: {2 * 1024 * 1024} kB\n")
    before = snapshot(host)
    code, result = run(capsys, {"path": host.path, "size": "auto", "_ansible_check_mode": True})
    assert code == 0, result
    fs = filesystem_usage(os.statvfs(host.dir))
    expected, reason = auto_swap_size(3 * 1024 * MIB, fs, 0, 100, host.dir)
    assert expected == min(recommend_swap_bytes(3 * 1024 * MIB), expected) and expected > 0
    assert result["size_bytes"] == expected and result["size_reason"] == reason
    assert result["actions"] == ["create", "swapon", "fstab"]
    assert snapshot(host) == before and host.commands == []


def test_size_auto_counts_the_current_file_and_is_idempotent(capsys, host):
    host.write(host.meminfo, "MemTotal: 204800 kB\nMemAvailable: 204800 kB\n")  # 200 MiB of RAM: 400 MiB -> 512 MiB
    code, result = run(capsys, {"path": host.path, "size": "auto"})
    assert code == 0 and result["changed"] is True and result["size_bytes"] == 512 * MIB, result
    code, result = run(capsys, {"path": host.path, "size": "auto"})
    assert code == 0, result
    assert result["changed"] is False and result["size_bytes"] == 512 * MIB


def test_size_auto_refuses_when_nothing_fits(capsys, host):
    before = snapshot(host)
    code, result = run(capsys, {"path": host.path, "size": "auto", "max_disk_use_percent": 1})
    assert code == 1
    assert f"there is no room for swap in {host.dir}" in result["msg"] and "Nothing was changed." in result["msg"]
    assert snapshot(host) == before and host.commands == []


def test_relative_path_and_missing_directory(capsys, host):
    code, result = run(capsys, {"path": "swapfile", "size": "2M"})
    assert code == 1 and "must be an absolute path" in result["msg"]
    code, result = run(capsys, {"path": os.path.join(host.root, "nowhere", "swapfile"), "size": "2M"})
    assert code == 1 and "does not exist" in result["msg"]
    code, result = run(capsys, {"path": os.path.join(host.root, "nowhere", "swapfile"), "state": "absent"})
    assert code == 0 and result["changed"] is False and result["filesystem"] is None


def test_probe_swap_permission_answers():
    permitted, reason = swapfile.probe_swap_permission()
    assert permitted in (True, False, None)
    assert isinstance(reason, str)


def test_documentation_matches_argument_spec():
    documentation = yaml.safe_load(swapfile.DOCUMENTATION)
    options = documentation["options"]
    assert sorted(options) == sorted(swapfile.ARGUMENT_SPEC)
    for name, spec in swapfile.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("choices") == spec.get("choices"), name
        assert options[name].get("required", False) == spec.get("required", False), name
    returned = yaml.safe_load(swapfile.RETURN)
    assert sorted(returned) == sorted(["path", "state", "size_bytes", "size_reason", "previous_size_bytes", "active", "priority",
                                       "actions", "method", "filesystem", "fstab_line"])
    yaml.safe_load(swapfile.EXAMPLES)
