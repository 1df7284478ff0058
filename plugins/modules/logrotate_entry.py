#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: logrotate_entry
short_description: One logrotate entry in /etc/logrotate.d, checked with logrotate -d before it lands
version_added: 0.1.0
description:
  - Writes C(/etc/logrotate.d/<name>) (or C(<hourly_config_dir>/<name>) for O(frequency=hourly)) from typed
    options. The new file is first checked with C(logrotate -d) (a dry run, with a state file in a temporary
    directory); when logrotate reports an error the module fails with logrotate's message and the existing file
    stays as it was.
  - Refuses a name whose file belongs to an OS package (C(dpkg-query -S), C(rpm -qf)) or exists without this
    role's header line, so entries never replace files written by packages or by hand.
  - An entry that moves between hourly and the other frequencies is removed from the directory it leaves.
  - O(state=absent) removes the entry's file (only a file this role wrote).
author:
  - hostcare.vps contributors (@hostcare)
options:
  name:
    description:
      - File name of the entry, 1 to 64 letters, digits, C(-) or C(_) (logrotate skips names with dots).
    type: str
    required: true
  state:
    description:
      - V(present) writes the entry, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  paths:
    description:
      - Absolute paths or globs of the log files. Required when O(state=present).
    type: list
    elements: str
  frequency:
    description:
      - How often to rotate. V(hourly) entries go to O(hourly_config_dir), which the role runs every hour.
    type: str
    choices: [hourly, daily, weekly, monthly]
    default: daily
  rotate:
    description:
      - How many rotated files to keep.
    type: int
    default: 14
  size:
    description:
      - Rotate when the file is bigger than this (V(100k), V(50M), V(1G)), whatever the frequency.
    type: str
  maxsize:
    description:
      - Rotate when bigger than this even before the frequency is due.
    type: str
  minsize:
    description:
      - Do not rotate before the file is bigger than this, even when the frequency is due.
    type: str
  compress:
    description:
      - Compress rotated files with gzip.
    type: bool
    default: true
  delaycompress:
    description:
      - Leave the newest rotated file uncompressed until the next rotation (for apps that write to it a little
        longer).
    type: bool
    default: false
  missingok:
    description:
      - A missing log file is not an error.
    type: bool
    default: true
  notifempty:
    description:
      - Do not rotate an empty file.
    type: bool
    default: true
  dateext:
    description:
      - Name rotated files with a date (C(app.log-20261123)) instead of a number.
    type: bool
    default: false
  copytruncate:
    description:
      - Copy the file and truncate it in place, for apps that cannot reopen their log. Lines written between the
        copy and the truncation are lost; prefer a new file (O(create_mode)) with a O(postrotate) that makes the
        app reopen it.
    type: bool
    default: false
  create_mode:
    description:
      - Mode of the new, empty log file created after rotation (V(0640)). Without O(copytruncate) a new file is
        always created; without this option it gets the old file's mode and owner.
    type: str
  create_owner:
    description:
      - Owner of the new log file. Needs O(create_mode).
    type: str
  create_group:
    description:
      - Group of the new log file. Needs O(create_owner).
    type: str
  su_user:
    description:
      - Rotate as this user (logrotate's C(su)), needed when the log directory is writable by a non-root user.
    type: str
  su_group:
    description:
      - Group for O(su_user).
    type: str
  sharedscripts:
    description:
      - Run O(prerotate) and O(postrotate) once for all matching files instead of once per file.
    type: bool
    default: false
  prerotate:
    description:
      - Shell lines run before rotation.
    type: list
    elements: str
  postrotate:
    description:
      - Shell lines run after rotation, typically a signal that makes the app reopen its log
        (C(kill -USR1 $(cat /run/app.pid))).
    type: list
    elements: str
  config_dir:
    description:
      - Directory of the entries logrotate's daily run reads.
    type: path
    default: /etc/logrotate.d
  hourly_config_dir:
    description:
      - Directory of the hourly entries, read by the role's hourly logrotate run.
    type: path
    default: /etc/logrotate.hourly.d
  main_config:
    description:
      - logrotate's main configuration, which includes O(config_dir). A new daily entry is also checked with
        C(logrotate -d) as part of it (on a copy), so that a log another entry already names is refused (logrotate
        would skip one of the two). Hourly entries are checked with the other hourly entries.
    type: path
    default: /etc/logrotate.conf
attributes:
  check_mode:
    support: full
    description: Runs the package and ownership checks and C(logrotate -d), reports what would change, changes nothing.
  diff_mode:
    support: full
    description: Shows the entry file before and after.
notes:
  - Needs C(logrotate) on the target.
seealso:
  - name: logrotate(8)
    description: The meaning of each directive.
    link: https://man7.org/linux/man-pages/man8/logrotate.8.html
"""

EXAMPLES = r"""
- name: Rotate the app's logs daily, keeping two weeks, and make the app reopen its file
  hostcare.vps.logrotate_entry:
    name: myapp
    paths:
      - /var/www/myapp/log/*.log
    frequency: daily
    rotate: 14
    create_mode: "0640"
    create_owner: deploy
    create_group: deploy
    su_user: deploy
    su_group: deploy
    sharedscripts: true
    postrotate:
      - systemctl kill -s USR1 myapp.service
"""

RETURN = r"""
path:
  description: The entry's file.
  returned: always
  type: str
  sample: /etc/logrotate.d/myapp
content:
  description: The file's content when O(state=present).
  returned: always
  type: str
removed:
  description: Files removed (the entry's file for O(state=absent), or the copy in the directory an entry left).
  returned: always
  type: list
  elements: str
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text, write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import (
    FREQUENCIES,
    entry_errors,
    is_ours,
    logrotate_errors,
    new_errors,
    render_entry,
    staged_main_config,
)

ENTRY_KEYS = (
    "name", "state", "paths", "frequency", "rotate", "size", "maxsize", "minsize", "compress", "delaycompress",
    "missingok", "notifempty", "dateext", "copytruncate", "create_mode", "create_owner", "create_group",
    "su_user", "su_group", "sharedscripts", "prerotate", "postrotate",
)


def package_owner(module, path):
    """The OS package that ships `path`, or None."""
    dpkg_query = module.get_bin_path("dpkg-query")
    if dpkg_query:
        rc, out, dummy = module.run_command([dpkg_query, "-S", path])
        if rc == 0 and out.strip():
            return out.split(":", 1)[0].strip()
    rpm = module.get_bin_path("rpm")
    if rpm:
        rc, out, dummy = module.run_command([rpm, "-qf", path])
        if rc == 0 and out.strip():
            return out.strip().splitlines()[0]
    return None


def refuse_foreign(module, path, name):
    """Fail when `path` belongs to a package or exists without this role's header."""
    owner = package_owner(module, path)
    if owner:
        module.fail_json(msg=f"hostcare.vps.logrotate: {path} belongs to the package {owner}; choose another name "
                             f"for the entry {name!r} (a prefix such as app-{name}). Nothing was changed.")
    content = read_text(path, errors="replace")
    if content is not None and not is_ours(content):
        module.fail_json(msg=f"hostcare.vps.logrotate: {path} exists and was not written by this role; rename the "
                             f"entry {name!r} or move that file away first. Nothing was changed.")
    return content


def run_logrotate_debug(module, logrotate, workdir, config):
    rc, out, err = module.run_command([logrotate, "-d", "-s", os.path.join(workdir, "status"), config])
    return rc, err + "\n" + out


def stage_configuration(workdir, config_dir, main_config, name, content):
    """A copy of the configuration logrotate's run reads, with the entry `name` set to `content` (None: without
    it); returns the path of the staged main configuration."""
    staged_dir = tempfile.mkdtemp(dir=workdir)
    if os.path.isdir(config_dir):
        for entry_name in os.listdir(config_dir):
            source = os.path.join(config_dir, entry_name)
            if entry_name != name and os.path.isfile(source):
                shutil.copyfile(source, os.path.join(staged_dir, entry_name))
                os.chmod(os.path.join(staged_dir, entry_name), 0o644)
    # logrotate refuses configuration files that are group or world writable: each is written 0644.
    if content is not None:
        write_atomically(os.path.join(staged_dir, name), content)
    main = staged_dir + ".conf"
    main_text = read_text(main_config, errors="replace") if main_config else None
    write_atomically(main, staged_main_config(main_text, config_dir, staged_dir))
    return main


def validate(module, content, dest, main_config):
    """Run `logrotate -d` on the new content alone, then on the whole configuration with and without it (a log
    that another entry already names makes logrotate skip one of them); fail with logrotate's message when it
    reports an error of the entry's own."""
    logrotate = module.get_bin_path("logrotate")
    if not logrotate and module.check_mode:
        # The role installs logrotate first; in check mode that install did not happen.
        module.warn(f"logrotate is not installed yet, so {dest} was not checked with logrotate -d")
        return
    if not logrotate:
        module.fail_json(msg="hostcare.vps.logrotate: logrotate is not installed on this host (install the "
                             "logrotate package). Nothing was changed.")
    workdir = tempfile.mkdtemp(prefix="hostcare-logrotate-")
    try:
        candidate = os.path.join(workdir, os.path.basename(dest))
        write_atomically(candidate, content)
        rc, output = run_logrotate_debug(module, logrotate, workdir, candidate)
        errors = logrotate_errors(output, candidate, dest) if rc != 0 else []
        if not errors:
            config_dir, name = os.path.split(dest)
            outputs = []
            for staged_content in (None, content):
                main = stage_configuration(workdir, config_dir, main_config, name, staged_content)
                dummy, output = run_logrotate_debug(module, logrotate, workdir, main)
                outputs.append(output.replace(main[:-len(".conf")], config_dir))
            errors = new_errors(*outputs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if errors:
        module.fail_json(msg=f"hostcare.vps.logrotate: logrotate refused the entry for {dest}: "
                             f"{' | '.join(errors)}. {dest} was not changed.",
                         logrotate_errors=errors, content=content)


def write(module, content, dest):
    write_atomically(dest, content, move=module.atomic_move)
    # logrotate refuses config files that are group or world writable, or not owned by root.
    os.chown(dest, 0, 0)
    os.chmod(dest, 0o644)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            paths=dict(type="list", elements="str"),
            frequency=dict(type="str", choices=list(FREQUENCIES), default="daily"),
            rotate=dict(type="int", default=14),
            size=dict(type="str"),
            maxsize=dict(type="str"),
            minsize=dict(type="str"),
            compress=dict(type="bool", default=True),
            delaycompress=dict(type="bool", default=False),
            missingok=dict(type="bool", default=True),
            notifempty=dict(type="bool", default=True),
            dateext=dict(type="bool", default=False),
            copytruncate=dict(type="bool", default=False),
            create_mode=dict(type="str"),
            create_owner=dict(type="str"),
            create_group=dict(type="str"),
            su_user=dict(type="str"),
            su_group=dict(type="str"),
            sharedscripts=dict(type="bool", default=False),
            prerotate=dict(type="list", elements="str"),
            postrotate=dict(type="list", elements="str"),
            config_dir=dict(type="path", default="/etc/logrotate.d"),
            hourly_config_dir=dict(type="path", default="/etc/logrotate.hourly.d"),
            main_config=dict(type="path", default="/etc/logrotate.conf"),
        ),
        required_if=[("state", "present", ["paths"])],
        supports_check_mode=True,
    )
    params = module.params
    entry = {key: params[key] for key in ENTRY_KEYS}
    errors = entry_errors(entry)
    if errors:
        module.fail_json(msg=f"hostcare.vps.logrotate: entry {params['name']!r}: {'; '.join(errors)}. "
                             "Nothing was changed.", errors=errors)

    name = params["name"]
    hourly = params["frequency"] == "hourly"
    dirs = [params["hourly_config_dir"], params["config_dir"]]
    if not hourly:
        dirs.reverse()
    paths = [os.path.join(directory, name) for directory in dirs]
    if params["state"] == "absent":
        dest, targets = None, paths
    else:
        dest, targets = paths[0], paths[1:]  # the entry moves out of the other directory

    current = refuse_foreign(module, dest, name) if dest else None
    removed_text = {}
    for path in targets:
        existing = read_text(path, errors="replace")
        if existing is None:
            continue
        if is_ours(existing):
            removed_text[path] = existing
        elif dest is None:
            module.warn(f"{path} was not written by hostcare.vps.logrotate: left as it is")
        else:
            refuse_foreign(module, path, name)

    to_remove = list(removed_text)
    content = render_entry(entry) if dest else ""
    rewrite = dest is not None and current != content
    changed = bool(to_remove) or rewrite
    if rewrite:
        validate(module, content, dest, params["main_config"] if not hourly else None)

    header = dest or targets[0]
    before = current if dest else "".join(removed_text.values())
    diff = {"before_header": header, "after_header": header, "before": before or "", "after": content}
    if changed and not module.check_mode:
        if rewrite:
            write(module, content, dest)
        for path in to_remove:
            os.remove(path)
    module.exit_json(changed=changed, path=header, content=content, removed=to_remove,
                     diff=diff if changed else {})


if __name__ == "__main__":
    main()
