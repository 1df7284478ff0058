"""Offline stand-in for the get-pip script that ansible-test downloads (its host is unreachable here).

ansible-test runs it as `python get_pip_X_Y.py [--no-setuptools] [--no-wheel] pip==X.Y ...` inside a new
virtualenv: bootstrap the bundled pip with ensurepip, then install the requested packages from the index.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
if os.path.exists(ca_bundle):
    command += ["--cert", ca_bundle]
command += [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
sys.exit(subprocess.call(command))
