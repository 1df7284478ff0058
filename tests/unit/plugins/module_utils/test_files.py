# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._files import write_atomically


def test_write_atomically(tmp_path):
    path = tmp_path / "state" / "demo.json"
    write_atomically(str(path), "one\n")
    write_atomically(str(path), "two\n")
    assert path.read_text() == "two\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(path.parent) == ["demo.json"]


def test_a_failed_move_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("old\n")

    def refuse(_source, _dest):
        raise OSError("read-only file system")

    with pytest.raises(OSError):
        write_atomically(str(path), "new\n", move=refuse)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["daemon.json"]
