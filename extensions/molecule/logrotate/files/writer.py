"""Append numbered lines (1, 2, 3 ...) to a log file until SIGTERM, reopening the file on SIGHUP.

usage: writer.py LOG PIDFILE COUNTFILE [DELAY_SECONDS]
On SIGTERM it finishes the current line, closes the file and writes the last number to COUNTFILE.
"""
import os
import signal
import sys
import time

path, pidfile, countfile = sys.argv[1], sys.argv[2], sys.argv[3]
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0005
flags = {"reopen": False, "stop": False}
signal.signal(signal.SIGHUP, lambda *_: flags.update(reopen=True))
signal.signal(signal.SIGTERM, lambda *_: flags.update(stop=True))
deadline = time.monotonic() + 300  # bounded even if nobody stops it

log = open(path, "a", buffering=1)  # O_APPEND: after a copytruncate the next line lands at the new end
with open(pidfile, "w") as handle:
    handle.write(str(os.getpid()))
number = 0
while not flags["stop"] and time.monotonic() < deadline:
    if flags["reopen"]:
        flags["reopen"] = False
        log.close()
        log = open(path, "a", buffering=1)
    number += 1
    log.write("%d\n" % number)
    if delay:
        time.sleep(delay)
log.close()
with open(countfile + ".tmp", "w") as handle:
    handle.write(str(number))
os.rename(countfile + ".tmp", countfile)
