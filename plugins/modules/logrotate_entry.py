#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: logrotate_entry
short_description: Logrotate entries in /etc/logrotate.d, checked together with logrotate -d before any lands
version_added: 0.1.0
description:
  - Writes C(/etc/logrotate.d/<name>) (or C(<hourly_config_dir>/<name>) for O(frequency=hourly)) from typed
    options, for one entry (O(name) and its options) or a set (O(entries)).
  - Every input is checked first. Then all the new entries, together with the existing configuration (the main
    configuration, O(config_dir) and O(hourly_config_dir)), are checked in one C(logrotate -d) run on a staged
    copy (a dry run, with a state file in a temporary directory) before any file is written; when logrotate reports
    an error that the new entries bring, the module fails with logrotate's message and no file changes. So two
    entries naming the same log, or an hourly and a daily entry rotating the same file, are refused together.
  - Files are written and removed only after every check passed; if a write fails, the files already written are
    put back.
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
      - One of O(name) and O(entries) is required.
    type: str
  entries:
    description:
      - A set of entries, each a dict with the options of one entry (O(name), O(state), O(paths), O(frequency),
        O(rotate), O(size), O(maxsize), O(minsize), O(compress), O(delaycompress), O(missingok), O(notifempty),
        O(dateext), O(copytruncate), O(create_mode), O(create_owner), O(create_group), O(su_user), O(su_group),
        O(sharedscripts), O(prerotate), O(postrotate), with the same types and defaults), checked together and
        written together. Instead of O(name).
      - Names must be unique, and no log may be named by two present entries (equal paths, or a path one entry's
        glob matches).
      - An element that is not a dict, or has an option an entry does not have, is refused naming the element.
    type: list
    elements: raw
  state:
    description:
      - V(present) writes the entry, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  paths:
    description:
      - Absolute, normalised paths or globs of the log files, not under C(/proc), C(/sys) or C(/dev). Required when
        O(state=present).
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
      - How many rotated files to keep, a whole number from V(0) to V(10000).
    type: raw
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
      - Directory of the entries logrotate's daily run reads. An absolute path.
    type: path
    default: /etc/logrotate.d
  hourly_config_dir:
    description:
      - Directory of the hourly entries, read by the role's hourly logrotate run. An absolute path.
    type: path
    default: /etc/logrotate.hourly.d
  main_config:
    description:
      - logrotate's main configuration, which includes O(config_dir). The new entries are checked with
        C(logrotate -d) as part of it (on a copy), with the hourly entries included too, so that a log another
        entry already names is refused (logrotate would skip one of the two, or the hourly and the daily run would
        both rotate it).
    type: path
    default: /etc/logrotate.conf
attributes:
  check_mode:
    support: full
    description: Runs every check and C(logrotate -d), reports what would change, changes nothing.
  diff_mode:
    support: full
    description: Shows each entry file before and after.
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

- name: Rotate two apps' logs, checked together before either file is written
  hostcare.vps.logrotate_entry:
    entries:
      - name: api
        paths: [/var/www/api/log/*.log]
        postrotate: [systemctl kill -s USR1 api.service]
      - name: worker-hourly
        paths: [/var/log/worker/worker.log]
        frequency: hourly
        rotate: 48
"""

RETURN = r"""
path:
  description: The entry's file (with O(name)).
  returned: when O(name) is given
  type: str
  sample: /etc/logrotate.d/myapp
content:
  description: The file's content when O(state=present) (with O(name)).
  returned: when O(name) is given
  type: str
entries:
  description: Per entry of O(entries), in order, what was (in check mode, would be) done.
  returned: when O(entries) is given
  type: list
  elements: dict
  contains:
    name:
      description: The entry's name.
      type: str
    path:
      description: Its file.
      type: str
    changed:
      description: Whether its file was written or removed.
      type: bool
    removed:
      description: Files removed for it.
      type: list
      elements: str
removed:
  description: Files removed (the entry's file for O(state=absent), or the copy in the directory an entry left).
  returned: always
  type: list
  elements: str
hourly_files:
  description: The files in O(hourly_config_dir) after the run (in check mode, the ones there would be); the hourly
    run is needed while this is not empty.
  returned: always
  type: list
  elements: str
  sample: [worker-hourly]
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text, write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import (
    ENTRY_SPEC,
    entries_errors,
    is_ours,
    logrotate_errors,
    new_errors,
    render_entry,
    staged_main_config,
)
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError, absolute_path, unknown_names

ARGUMENT_SPEC = {
    **{key: dict(spec, required=False) if key == "name" else dict(spec) for key, spec in ENTRY_SPEC.items()},
    # Elements checked by checked_entries: ansible-core's own message for a bad element does not name the option.
    "entries": {"type": "list", "elements": "raw"},
    "config_dir": {"type": "path", "default": "/etc/logrotate.d"},
    "hourly_config_dir": {"type": "path", "default": "/etc/logrotate.hourly.d"},
    "main_config": {"type": "path", "default": "/etc/logrotate.conf"},
}


def checked_entries(entries):
    """The elements of `entries` checked against ENTRY_SPEC, with its defaults: (entries, problems)."""
    checked, problems = [], []
    for index, element in enumerate(entries):
        if not isinstance(element, dict):
            problems.append(f"entries[{index}]: must be a dict with the options of one entry, got {element!r}")
            continue
        label = element.get("name") if isinstance(element.get("name"), str) else index
        problems.extend(f"entries[{label}]: {message}" for message in unknown_names(element, ENTRY_SPEC))
        result = ArgumentSpecValidator(ENTRY_SPEC).validate({key: element[key] for key in element if key in ENTRY_SPEC})
        problems.extend(f"entries[{label}]: {message}" for message in result.error_messages)
        checked.append(result.validated_parameters)
    return checked, problems


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


def plan_entry(module, entry, config_dir, hourly_config_dir):
    """What one entry changes: {name, dest (None for absent), current, content, rewrite, removed {path: text}}.

    Fails (nothing written yet) when a file it would write or remove belongs to a package or to someone else.
    """
    name = entry["name"]
    dirs = [hourly_config_dir, config_dir]
    if entry["frequency"] != "hourly":
        dirs.reverse()
    paths = [os.path.join(directory, name) for directory in dirs]
    if entry["state"] == "absent":
        dest, targets = None, paths
    else:
        dest, targets = paths[0], paths[1:]  # the entry moves out of the other directory
    current = refuse_foreign(module, dest, name) if dest else None
    removed = {}
    for path in targets:
        existing = read_text(path, errors="replace")
        if existing is None:
            continue
        if is_ours(existing):
            removed[path] = existing
        elif dest is None:
            module.warn(f"{path} was not written by hostcare.vps.logrotate: left as it is")
        else:
            refuse_foreign(module, path, name)
    content = render_entry(entry) if dest else ""
    return {"name": name, "dest": dest, "header": dest or targets[0], "current": current, "content": content,
            "rewrite": dest is not None and current != content, "removed": removed}


def run_logrotate_debug(module, logrotate, workdir, config):
    rc, out, err = module.run_command([logrotate, "-d", "-s", os.path.join(workdir, "status"), config])
    return rc, err + "\n" + out


def stage_directory(workdir, directory, changes):
    """A copy of the entry files of `directory` with `changes` ({file name: new text, or None to leave it out})."""
    staged = tempfile.mkdtemp(dir=workdir)
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            source = os.path.join(directory, name)
            if name not in changes and os.path.isfile(source):
                shutil.copyfile(source, os.path.join(staged, name))
                os.chmod(os.path.join(staged, name), 0o644)
    for name, text in changes.items():
        if text is not None:
            # logrotate refuses configuration files that are group or world writable: each is written 0644.
            write_atomically(os.path.join(staged, name), text)
    return staged


def stage_configuration(workdir, params, changes):
    """The whole configuration, staged with `changes` ({real file path: text or None}): the main configuration with
    its include of config_dir pointed at the staged copy, and the staged hourly entries included too. Returns the
    staged main configuration and {staged directory: real directory}."""
    copies = {}
    for directory in (params["config_dir"], params["hourly_config_dir"]):
        names = {os.path.basename(path): text for path, text in changes.items() if os.path.dirname(path) == directory}
        copies[stage_directory(workdir, directory, names)] = directory
    staged_daily, staged_hourly = list(copies)
    main = staged_daily + ".conf"
    main_text = read_text(params["main_config"], errors="replace") if params["main_config"] else None
    write_atomically(main, staged_main_config(main_text, params["config_dir"], staged_daily, [staged_hourly]))
    return main, copies


def validate(module, plans, params):
    """One `logrotate -d` run of the whole configuration as it would be (every new entry at once, the existing
    files, the hourly entries included), compared with a run of the configuration as it is: fail with logrotate's
    message when the new entries bring an error (theirs, or a log another entry already names)."""
    dests = [plan["dest"] for plan in plans if plan["rewrite"]]
    logrotate = module.get_bin_path("logrotate")
    if not logrotate and module.check_mode:
        # The role installs logrotate first; in check mode that install did not happen.
        module.warn(f"logrotate is not installed yet, so {', '.join(dests)} were not checked with logrotate -d")
        return
    if not logrotate:
        module.fail_json(msg="hostcare.vps.logrotate: logrotate is not installed on this host (install the "
                             "logrotate package). Nothing was changed.")
    changes = {}
    for plan in plans:
        changes.update(dict.fromkeys(plan["removed"]))
        if plan["rewrite"]:
            changes[plan["dest"]] = plan["content"]
    workdir = tempfile.mkdtemp(prefix="hostcare-logrotate-")
    try:
        outputs, codes = [], []
        for staged_changes in ({}, changes):
            main, copies = stage_configuration(workdir, params, staged_changes)
            rc, output = run_logrotate_debug(module, logrotate, workdir, main)
            for staged, real in copies.items():
                output = output.replace(staged, real)
            outputs.append(output)
            codes.append(rc)
        errors = new_errors(*outputs)
        if not errors and codes[1] != 0 and codes[0] == 0:
            errors = logrotate_errors(outputs[1], workdir, params["config_dir"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if errors:
        what = f"entry for {dests[0]}" if len(dests) == 1 else f"entries for {', '.join(dests)}"
        unchanged = f"{dests[0]} was not changed." if len(dests) == 1 else "Nothing was changed."
        module.fail_json(msg=f"hostcare.vps.logrotate: logrotate refused the {what}: {' | '.join(errors)}. {unchanged}",
                         logrotate_errors=errors, content=plans[0]["content"] if len(plans) == 1 else None)


def write(module, content, dest):
    write_atomically(dest, content, move=module.atomic_move)
    # logrotate refuses config files that are group or world writable, or not owned by root.
    os.chown(dest, 0, 0)
    os.chmod(dest, 0o644)


def apply(module, plans):
    """Write and remove every planned file; when one fails, put back those already done, then fail."""
    done = []  # (path, text before: None when the file did not exist)
    try:
        for plan in plans:
            if plan["rewrite"]:
                write(module, plan["content"], plan["dest"])
                done.append((plan["dest"], plan["current"]))
            for path, text in plan["removed"].items():
                os.remove(path)
                done.append((path, text))
    except OSError as error:
        for path, text in reversed(done):
            if text is None:
                os.remove(path)
            else:
                write(module, text, path)
        module.fail_json(msg=f"hostcare.vps.logrotate: {error}. The entry files changed before it were put back; "
                             "nothing was changed.")


def hourly_files(directory, plans):
    """The files in the hourly directory after the plans (what the hourly run will read)."""
    names = set(os.listdir(directory)) if os.path.isdir(directory) else set()
    for plan in plans:
        names -= {os.path.basename(path) for path in plan["removed"] if os.path.dirname(path) == directory}
        if plan["dest"] and os.path.dirname(plan["dest"]) == directory:
            names.add(plan["name"])
    return sorted(names)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_one_of=[("name", "entries")],
        mutually_exclusive=[("name", "entries"), ("paths", "entries")],
        supports_check_mode=True,
    )
    params = module.params
    single = params["entries"] is None
    if single:
        entries, errors = [{key: params[key] for key in ENTRY_SPEC}], []
    else:
        entries, errors = checked_entries(params["entries"])
    errors += entries_errors(entries) if not errors else []
    for option in ("config_dir", "hourly_config_dir", "main_config"):
        try:
            absolute_path(option, params[option], written=option != "main_config")
        except OptionError as error:
            errors.append(str(error))
    if os.path.isdir(params["main_config"] or ""):
        errors.append(f"main_config: {params['main_config']!r} is a directory; give logrotate's main configuration "
                      "file (/etc/logrotate.conf)")
    if errors:
        label = f"entry {params['name']!r}: " if single else ""
        messages = [error.split(": ", 1)[1] if single and error.startswith("entry ") else error for error in errors]
        module.fail_json(msg=f"hostcare.vps.logrotate: {label}{'; '.join(messages)}. Nothing was changed.",
                         errors=messages)

    try:
        plans = [plan_entry(module, entry, params["config_dir"], params["hourly_config_dir"]) for entry in entries]
        if any(plan["rewrite"] for plan in plans):
            validate(module, plans, params)
    except (OSError, UnicodeError) as error:  # a directory where a file should be, an unreadable file ...
        module.fail_json(msg=f"hostcare.vps.logrotate: cannot read the configuration: {error}. Nothing was changed.")
    changed_plans = [plan for plan in plans if plan["rewrite"] or plan["removed"]]
    if changed_plans and not module.check_mode:
        apply(module, changed_plans)

    diffs = [{"before_header": plan["header"], "after_header": plan["header"],
              "before": (plan["current"] if plan["dest"] else "".join(plan["removed"].values())) or "",
              "after": plan["content"]} for plan in changed_plans]
    result = {"changed": bool(changed_plans), "removed": [path for plan in plans for path in plan["removed"]],
              "hourly_files": hourly_files(params["hourly_config_dir"], plans)}
    if single:
        result.update(path=plans[0]["header"], content=plans[0]["content"], diff=diffs[0] if diffs else {})
    else:
        result.update(diff=diffs, entries=[
            {"name": plan["name"], "path": plan["header"], "changed": plan in changed_plans,
             "removed": list(plan["removed"])} for plan in plans])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
