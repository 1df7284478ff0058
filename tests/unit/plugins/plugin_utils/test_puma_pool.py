# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The worked examples of shared/reference/puma-db-pool.md (sections 3 and 4) with their exact numbers."""

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import PumaPoolError, normalise_inputs, puma_pool

# Example 1: 4 vCPU / 23 GB, PostgreSQL and Redis on the host, Sidekiq 15, Rails 7.2+.
EXAMPLE_1 = {"cpu_count": 4, "ram_mb": 23552, "reserved_mb": 7680, "per_worker_rss_mb": 1024, "master_rss_mb": 1024,
             "sidekiq_rss_mb": 1536, "sidekiq_concurrency": 15, "pg_max_connections": 100, "other_db_clients": 5}
# Example 2: 2 vCPU / 4 GB shared with 5 other apps.
EXAMPLE_2 = {"cpu_count": 2, "ram_mb": 4096, "reserved_mb": 3274, "per_worker_rss_mb": 350, "sidekiq_rss_mb": 300,
             "sidekiq_concurrency": 3, "cpu_share": 1 / 6, "other_db_clients": 43}


def size(**inputs):
    return puma_pool(normalise_inputs(inputs))


def test_example_1_workers_pools_memory_connections():
    result = size(**EXAMPLE_1)
    assert (result["workers_by_cpu"], result["workers_by_ram"]) == (4, 13)
    assert (result["mode"], result["web_concurrency"], result["rails_max_threads"]) == ("cluster", 4, 3)
    assert (result["db_pool_web"], result["db_pool_sidekiq"], result["sidekiq_concurrency"]) == (3, 15, 15)
    assert result["memory_mb"]["total"] == 14336
    assert result["memory_mb"]["free"] == 9216
    assert result["connections"] == {"expected_peak": 27, "ceiling": 27, "deploy_overlap": 0, "total": 27,
                                     "pg_usable": 92, "headroom": 65}
    assert result["errors"] == []
    # 15 Sidekiq threads warn; 5 Ruby processes on 4 cores are acceptable.
    assert len(result["warnings"]) == 1 and "Sidekiq concurrency 15" in result["warnings"][0]


def test_example_1_threads_5_and_blue_green():
    assert size(**EXAMPLE_1, threads=5)["connections"]["headroom"] == 57
    assert size(**EXAMPLE_1, io_heavy=True)["connections"]["expected_peak"] == 35
    connections = size(**EXAMPLE_1, threads=5, deploy_overlap="blue_green")["connections"]
    assert (connections["expected_peak"], connections["deploy_overlap"], connections["total"], connections["headroom"]) == \
        (35, 20, 55, 37)
    assert size(**EXAMPLE_1, deploy_overlap="phased")["connections"]["deploy_overlap"] == 3


def test_example_1_rails_8_four_databases_is_an_error():
    result = size(**EXAMPLE_1, pools_per_process=4)
    assert result["connections"]["expected_peak"] == 108
    assert result["fit"]["max_web_threads_that_fit"] == 2
    assert len(result["errors"]) == 1 and "108" in result["errors"][0] and "92" in result["errors"][0]


def test_example_1_audit_of_4_workers_8_threads_db_pool_52():
    audit = size(**EXAMPLE_1, current={"workers": 4, "threads": 8, "db_pool": 52, "sidekiq_concurrency": 15})["audit"]
    assert audit["connections"]["expected_peak"] == 47
    assert audit["connections"]["ceiling"] == 260
    assert audit["connections"]["pg_usable"] == 92
    assert audit["errors"] == []
    gvl, cluster_total, ceiling = audit["warnings"]
    assert "8 threads" in gvl and "GVL" in gvl
    assert "DB_POOL 52" in cluster_total and "per-process" in cluster_total and "260" in cluster_total
    assert "260" in ceiling and "92" in ceiling


def test_example_2_single_mode_on_a_shared_host():
    result = size(**EXAMPLE_2)
    assert (result["workers_by_cpu"], result["workers_by_ram"]) == (0, 0)
    assert (result["mode"], result["web_concurrency"], result["rails_max_threads"], result["db_pool_web"]) == \
        ("single", 0, 3, 3)
    assert (result["sidekiq_concurrency"], result["db_pool_sidekiq"]) == (3, 3)
    assert result["connections"] == {"expected_peak": 6, "ceiling": 6, "deploy_overlap": 0, "total": 6,
                                     "pg_usable": 54, "headroom": 48}
    assert result["memory_mb"]["free"] == 172
    assert result["errors"] == []
    single, memory, cpu = result["warnings"]
    assert "single mode" in single
    assert "172 MB" in memory and "(4%)" in memory
    assert "oversubscribed" in cpu


def test_example_2_counter_check_old_default_neighbours_fail():
    neighbours_on_old_defaults = {**EXAMPLE_2, "other_db_clients": 103}
    result = puma_pool(normalise_inputs(neighbours_on_old_defaults))
    assert result["connections"]["pg_usable"] == -6
    assert result["errors"] and "-6" in result["errors"][0]


def test_defaults_by_version():
    cfg = normalise_inputs({"cpu_count": 2, "ram_mb": 4096})
    assert (cfg["threads"], cfg["sidekiq_concurrency"], cfg["master_rss_mb"], cfg["sidekiq_rss_mb"]) == (3, 5, 512, 768)
    old = normalise_inputs({"cpu_count": 2, "ram_mb": 4096, "rails_version": 7.1, "sidekiq_version": 6})
    assert (old["threads"], old["sidekiq_concurrency"]) == (5, 10)


def test_max_workers_and_single_threaded_cpu_bound():
    assert size(**EXAMPLE_1, max_workers=2)["web_concurrency"] == 2
    # one thread per worker: 0.75 core each, floor(4 / 0.75) = 5
    assert size(**EXAMPLE_1, threads=1)["workers_by_cpu"] == 5


def test_shared_pool_var_uses_the_biggest_pool():
    result = size(**EXAMPLE_1, shared_pool_var=True)
    assert (result["db_pool_web"], result["db_pool_sidekiq"]) == (15, 15)
    assert result["connections"]["ceiling"] == 75
    assert result["connections"]["expected_peak"] == 27


def test_memory_errors():
    result = size(cpu_count=2, ram_mb=1024, reserved_mb=1024)
    assert any("not even single mode fits" in error for error in result["errors"])
    assert any("memory plan needs" in error for error in result["errors"])


def test_audit_pool_smaller_than_threads():
    audit = size(**EXAMPLE_1, current={"workers": 2, "threads": 5, "db_pool": 3})["audit"]
    assert len(audit["errors"]) == 2  # web pool 3 < 5 threads, Sidekiq pool 3 < 15


@pytest.mark.parametrize("inputs, words", [
    ({"ram_mb": 4096}, ["cpu_count", "required"]),
    ({"cpu_count": 0, "ram_mb": 4096}, ["cpu_count", "at least"]),
    ({"cpu_count": 2, "ram_mb": 4096, "cpu_share": -0.5}, ["cpu_share"]),
    ({"cpu_count": 2, "ram_mb": 4096, "cpu_share": 2}, ["cpu_share", "at most 1"]),
    ({"cpu_count": 2, "ram_mb": 4096, "threads": 2.5}, ["threads", "whole number"]),
    ({"cpu_count": 2, "ram_mb": float("inf")}, ["ram_mb", "at most 1073741824, got inf"]),
    ({"cpu_count": float("inf"), "ram_mb": 4096}, ["cpu_count", "at most 1024, got inf"]),
    ({"cpu_count": 2, "ram_mb": 1e308}, ["ram_mb", "got 1e+308"]),
    ({"cpu_count": 2, "ram_mb": "\u0664\u0660\u0669\u0666"}, ["ram_mb", "must be a number"]),
    ({"cpu_count": 2, "ram_mb": 4096, "threads": 10 ** 30}, ["threads", "at most 1000"]),
    ({"cpu_count": 2, "ram_mb": 4096, "current": {"workers": 2, "threads": float("nan"), "db_pool": 5}},
     ["current.threads", "got nan"]),
    ({"cpu_count": 2, "ram_mb": 4096, "rails_version": "7.x"}, ["rails_version", "a version such as"]),
    ({"cpu_count": 2, "ram_mb": 4096, "sidekiq_version": float("nan")}, ["sidekiq_version", "got nan"]),
    ({"cpu_count": 2, "ram_mb": 4096, "deploy_overlap": "rolling"}, ["deploy_overlap", "none, phased, blue_green"]),
    ({"cpu_count": 2, "ram_mb": 4096, "io_heavy": "yes"}, ["io_heavy", "true or false"]),
    ({"cpu_count": 2, "ram_mb": 4096, "cpus": 2}, ["cpus", "allowed: cpu_count"]),
    ({"cpu_count": 2, "ram_mb": 4096, "current": {"workers": 2}}, ["current.threads", "required"]),
    ({"cpu_count": 2, "ram_mb": 4096, "current": {"pool": 2}}, ["current", "db_pool"]),
])
def test_bad_input(inputs, words):
    with pytest.raises(PumaPoolError) as error:
        normalise_inputs(inputs)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("version, threads", [("7.1.3", 5), ("7.2", 3), ("7.2.0", 3), ("8", 3), (7.1, 5), (8.0, 3),
                                              ("7.10", 3)])
def test_rails_versions_are_strings(version, threads):
    assert normalise_inputs({"cpu_count": 2, "ram_mb": 4096, "rails_version": version})["threads"] == threads


@pytest.mark.parametrize("version, concurrency", [("6.5.12", 10), ("7", 5), ("7.3.9", 5), (6, 10)])
def test_sidekiq_versions_are_strings(version, concurrency):
    assert normalise_inputs({"cpu_count": 2, "ram_mb": 4096, "sidekiq_version": version})["sidekiq_concurrency"] == concurrency
