# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Docker connection contract: every module that talks to Docker takes socket_path (alias socket) and
timeout from _docker.CONNECTION_SPEC, documents them with the doc fragment hostcare.vps.docker, and refuses a bad
value, naming the option, before any connection."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.doc_fragments.docker import ModuleDocFragment
from ansible_collections.hostcare.vps.plugins.doc_fragments._attributes import ModuleDocFragment as AttributesFragment
from ansible_collections.hostcare.vps.plugins.module_utils import _docker, _validate
from ansible_collections.hostcare.vps.plugins.modules import (
    bluegreen_release,
    docker_bloat_facts,
    docker_cleanup,
    docker_log_config,
)
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module

FRAGMENTS = {
    "hostcare.vps.docker": yaml.safe_load(ModuleDocFragment.DOCUMENTATION),
    "hostcare.vps._attributes.facts": yaml.safe_load(AttributesFragment.FACTS),
}
DOCKER_MODULES = [docker_bloat_facts, docker_cleanup, docker_log_config, bluegreen_release]


def live_docker_client():
    """A client of this machine's real Docker daemon (make test starts one), negotiated like the modules do;
    the calling test is skipped without one."""
    client = _docker.DockerClient(timeout=30)
    try:
        client.check_socket()
        client.use_api_version(_docker.negotiate_api_version(client.get("/version", versioned=False)))
    except _docker.DockerUnavailable as error:
        pytest.skip(f"no Docker daemon here: {error}")
    return client


def documented_options(module):
    """A module's options with its doc fragments merged in, as ansible-doc shows them."""
    documentation = yaml.safe_load(module.DOCUMENTATION)
    options = {}
    for name in documentation.get("extends_documentation_fragment", []):
        options.update(FRAGMENTS[name].get("options", {}))
    options.update(documentation.get("options", {}))
    return options


def assert_documentation_matches(module, spec):
    """DOCUMENTATION (fragments included) and the argument spec agree, as validate-modules checks them."""
    documented = documented_options(module)
    assert set(documented) == set(spec)
    for name, option in spec.items():
        for key in ("type", "default", "elements", "choices", "aliases"):
            assert documented[name].get(key) == option.get(key), (name, key)


def test_the_fragment_documents_the_connection_spec():
    options = FRAGMENTS["hostcare.vps.docker"]["options"]
    assert set(options) == set(_docker.CONNECTION_SPEC) == {"socket_path", "timeout"}
    for name, option in _docker.CONNECTION_SPEC.items():
        for key in ("type", "default", "aliases"):
            assert options[name].get(key) == option.get(key), (name, key)


@pytest.mark.parametrize("module", DOCKER_MODULES, ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_every_docker_module_uses_the_one_contract(module):
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert "hostcare.vps.docker" in documentation["extends_documentation_fragment"]
    assert "socket_path" not in documentation.get("options", {}) and "timeout" not in documentation.get("options", {})
    for name, option in _docker.CONNECTION_SPEC.items():
        assert module.ARGUMENT_SPEC[name] == option, name


@pytest.mark.parametrize("params, message", [
    ({"socket_path": "unix:///var/run/docker.sock"},
     "socket_path: give the socket's path (such as /var/run/docker.sock), not a URL, got 'unix:///var/run/docker.sock'"),
    ({"socket_path": "tcp://127.0.0.1:2375"}, "socket_path: give the socket's path"),
    ({"socket_path": "ssh://me@host"}, "socket_path: give the socket's path"),
    ({"socket_path": "docker.sock"}, "socket_path: must be an absolute path (starting with /), got 'docker.sock'"),
    ({"socket_path": ""}, "socket_path: must be an absolute path, got ''"),
    ({"socket_path": "/run/../docker.sock"}, "socket_path: must be a normalised path"),
    ({"socket_path": "/run/docker.sock\n"}, "socket_path: must not contain control characters"),
    ({"timeout": 0}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 0"),
    ({"timeout": -3.0}, "timeout: must be a number of seconds greater than 0 and at most 3600, got -3.0"),
    ({"timeout": float("nan")}, "timeout: must be a number of seconds greater than 0 and at most 3600, got nan"),
    ({"timeout": float("inf")}, "timeout: must be a number of seconds greater than 0 and at most 3600, got inf"),
    ({"timeout": 1e300}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 1e+300"),
    ({"timeout": 3600.5}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 3600.5"),
])
def test_connection_options_refuse_bad_values_naming_the_option(params, message):
    with pytest.raises(_validate.OptionError) as error:
        _docker.connection_options(dict({"socket_path": "/var/run/docker.sock", "timeout": 60}, **params))
    assert message in str(error.value)


def test_connection_options_accept_the_defaults():
    params = {name: option["default"] for name, option in _docker.CONNECTION_SPEC.items()}
    assert _docker.connection_options(params) == ("/var/run/docker.sock", 60)


@pytest.mark.parametrize("module", [docker_bloat_facts, docker_cleanup, docker_log_config],
                         ids=lambda module: module.__name__.rsplit(".", 1)[-1])
@pytest.mark.parametrize("args, message", [
    ({"timeout": "1e300"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got '1e300'"),
    ({"timeout": "nan"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 'nan'"),
    ({"timeout": "inf"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 'inf'"),
    ({"timeout": "\u0661\u0662"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got '\u0661\u0662'"),
    ({"socket_path": "unix:///var/run/docker.sock"}, "socket_path: give the socket's path"),
    ({"socket": "tcp://127.0.0.1:2375"}, "socket_path: give the socket's path"),
])
def test_modules_refuse_bad_connection_options_before_connecting(capsys, tmp_path, monkeypatch, module, args, message):
    def no_connection(*_args, **_kwargs):
        raise AssertionError("connected although an option is bad")

    monkeypatch.setattr(_docker.DockerClient, "check_socket", no_connection)
    monkeypatch.setattr(_docker.DockerClient, "request", no_connection)
    daemon_json = tmp_path / "daemon.json"
    extra = {"path": str(daemon_json)} if module is docker_log_config else {}
    if module is docker_cleanup:
        extra = {"protect_state_dir": str(tmp_path)}
    code, result = run_module(module.main, capsys, dict(args, **extra))
    assert code == 1 and message in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert not daemon_json.exists()


@pytest.mark.parametrize("module", DOCKER_MODULES, ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_documentation_and_argument_spec_agree_fragments_included(module):
    assert_documentation_matches(module, module.ARGUMENT_SPEC)
