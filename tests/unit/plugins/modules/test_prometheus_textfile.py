# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.prometheus_textfile in a temporary directory: the checks (each naming the path's name, nothing
written), check mode, the atomic write through a temporary file whose name does not end in .prom, mode 0644."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _files
from ansible_collections.hostcare.vps.plugins.modules import prometheus_textfile
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module

TEXT = "# HELP hostcare_swap_bytes Active swap.\n# TYPE hostcare_swap_bytes gauge\nhostcare_swap_bytes 0\n"


def run(capsys, **args):
    return run_module(prometheus_textfile.main, capsys, args, check_mode=args.pop("check", False),
                      diff=args.pop("diff", False))


def test_writes_0644_then_changes_nothing(capsys, tmp_path):
    path = tmp_path / "hostcare.prom"
    code, result = run(capsys, path=str(path), content=TEXT, diff=True)
    assert code == 0 and result["changed"] and result["written"]
    assert path.read_text() == TEXT and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert result["diff"]["before"] == "" and result["diff"]["after"] == TEXT
    assert sorted(os.listdir(tmp_path)) == ["hostcare.prom"]  # no temporary file left
    code, again = run(capsys, path=str(path), content=TEXT)
    assert code == 0 and not again["changed"] and not again["written"]


def test_a_wrong_mode_is_rewritten(capsys, tmp_path):
    path = tmp_path / "hostcare.prom"
    path.write_text(TEXT)
    path.chmod(0o600)
    code, result = run(capsys, path=str(path), content=TEXT)
    assert code == 0 and result["changed"] and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_check_mode_and_check_only_write_nothing(capsys, tmp_path):
    path = tmp_path / "hostcare.prom"
    code, result = run(capsys, path=str(path), content=TEXT, check=True)
    assert code == 0 and result["changed"] and not result["written"] and not path.exists()
    code, result = run(capsys, path=str(path), path_name="audit_prometheus_textfile")
    assert code == 0 and not result["changed"] and not result["written"] and not path.exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("value, message", [
    ("metrics/hostcare.prom", "audit_prometheus_textfile: must be an absolute path (starting with /), got "
                              "'metrics/hostcare.prom'. Nothing was written."),
    ("{tmp}/hostcare.txt", "audit_prometheus_textfile: must name a file ending in .prom (node_exporter's textfile "
                           "collector reads only *.prom files)"),
    ("{tmp}/.prom", "must name a file ending in .prom"),
    ("{tmp}/missing/hostcare.prom", "audit_prometheus_textfile: the directory {tmp}/missing does not exist"),
    ("{tmp}/dir.prom", "audit_prometheus_textfile: {tmp}/dir.prom is a directory"),
    ("{tmp}/../x/hostcare.prom", "must be a normalised path"),
    ("/proc/hostcare.prom", "kernel filesystem"),
])
def test_refusals_name_the_variable_and_write_nothing(capsys, tmp_path, value, message):
    (tmp_path / "dir.prom").mkdir()
    before = sorted(os.listdir(tmp_path))
    value, message = value.format(tmp=tmp_path), message.format(tmp=tmp_path)
    code, result = run(capsys, path=value, content=TEXT, path_name="audit_prometheus_textfile")
    assert code == 1 and result["failed"] and message in result["msg"], result["msg"]
    assert result["msg"].startswith("hostcare.vps.prometheus_textfile: audit_prometheus_textfile: ")
    assert sorted(os.listdir(tmp_path)) == before


def test_content_must_end_with_a_newline(capsys, tmp_path):
    code, result = run(capsys, path=str(tmp_path / "x.prom"), content="hostcare_swap_bytes 0")
    assert code == 1 and "content: must be text ending with a newline" in result["msg"]
    assert not (tmp_path / "x.prom").exists()


def test_path_name_is_checked(capsys, tmp_path):
    code, result = run(capsys, path=str(tmp_path / "x.prom"), content=TEXT, path_name="a b")
    assert code == 1 and result["msg"].startswith("hostcare.vps.prometheus_textfile: path_name: ")


def test_a_reader_never_sees_a_partial_prom_file(capsys, tmp_path, monkeypatch):
    """The temporary file is in the same directory (a rename) and its name does not end in .prom (node_exporter
    would read it half-written): watched at the moment of the rename."""
    seen = []
    real_rename = os.rename

    def watching_rename(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), sorted(os.listdir(tmp_path))))
        real_rename(src, dst)

    def write_watched(path, text, mode):
        _files.write_atomically(path, text, mode=mode, move=watching_rename)

    monkeypatch.setattr(prometheus_textfile, "write_atomically", write_watched)
    path = tmp_path / "hostcare.prom"
    path.write_text("old 1\n")
    code, _result = run(capsys, path=str(path), content=TEXT)
    assert code == 0 and path.read_text() == TEXT
    (directory, name, listing), = seen
    assert directory == str(tmp_path) and not name.endswith(".prom")
    assert [entry for entry in listing if entry.endswith(".prom")] == ["hostcare.prom"]
