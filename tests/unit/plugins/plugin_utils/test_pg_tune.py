# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PGTune head (7caef27) reproduced: every expected value below is worked by hand from the formulas in
shared/reference/pgtune.md (kB, integer floor), or copied from that reference's worked values and PGTune's own jest tests."""

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import (
    PgTuneError,
    format_pg_kb,
    normalise_inputs,
    pg_tune,
)

GIB = 1024 ** 3


def tune(**inputs):
    return pg_tune(normalise_inputs(inputs))


def settings(**inputs):
    return tune(**inputs)["settings"]


@pytest.mark.parametrize("kilobytes, text", [
    (1048576, "1GB"), (6029312, "5888MB"), (20164, "20164kB"), (2096128, "2047MB"), (3932, "3932kB"), (102400, "100MB"),
])
def test_format_pg_kb(kilobytes, text):
    assert format_pg_kb(kilobytes) == text


FULL_CASES = [
    # 16GB, 4 CPUs, defaults (PG 18, linux, web, ssd, mid_ram): SB 4194304kB; work_mem (16777216-4194304)/((200+4)*3) = 20560.3
    (dict(memory="16GB", cpus=4), {
        "max_connections": "200", "shared_buffers": "4GB", "effective_cache_size": "12GB", "maintenance_work_mem": "1GB",
        "checkpoint_completion_target": "0.9", "wal_buffers": "16MB", "default_statistics_target": "100",
        "random_page_cost": "1.1", "effective_io_concurrency": "200", "work_mem": "20560kB", "huge_pages": "try",
        "jit": "off", "wal_compression": "lz4", "io_method": "io_uring", "min_wal_size": "1GB", "max_wal_size": "4GB",
        "max_worker_processes": "4", "max_parallel_workers_per_gather": "2", "max_parallel_workers": "4",
        "max_parallel_maintenance_workers": "2"}),
    # desktop, windows, PG 17, hdd, 2 CPUs (< 4: no parallel lines, N = 8): SB 8GB/16, work_mem 7864320/((20+8)*3*6) = 15603.8
    (dict(memory="8GB", cpus=2, workload="desktop", os_type="windows", version=17, storage="hdd"), {
        "max_connections": "20", "shared_buffers": "512MB", "effective_cache_size": "2GB", "maintenance_work_mem": "512MB",
        "checkpoint_completion_target": "0.9", "wal_buffers": "16MB", "default_statistics_target": "100",
        "random_page_cost": "4", "work_mem": "15603kB", "huge_pages": "off", "wal_compression": "lz4",
        "min_wal_size": "100MB", "max_wal_size": "2GB", "wal_level": "minimal", "max_wal_senders": "0"}),
    # dw, PG 15, nvme, 16 CPUs: maintenance 64GB/8 = 8GB (cap), gather uncapped 8, work_mem 50331648/((40+16)*3*2) = 149796.6
    (dict(memory="64GB", cpus=16, workload="dw", version=15, storage="nvme"), {
        "max_connections": "40", "shared_buffers": "16GB", "effective_cache_size": "48GB", "maintenance_work_mem": "8GB",
        "checkpoint_completion_target": "0.9", "wal_buffers": "16MB", "default_statistics_target": "500",
        "random_page_cost": "4", "effective_io_concurrency": "1000", "work_mem": "149796kB", "huge_pages": "try",
        "wal_compression": "lz4", "autovacuum_max_workers": "4", "autovacuum_work_mem": "2GB", "min_wal_size": "4GB",
        "max_wal_size": "16GB", "max_worker_processes": "16", "max_parallel_workers_per_gather": "8",
        "max_parallel_workers": "16", "max_parallel_maintenance_workers": "4"}),
    # oltp, mac, PG 18, san, 64 CPUs, 500 connections: work_mem 25165824/((500+64)*3) = 14873.4, io_workers min(32, 64/4)
    (dict(memory="32GB", cpus=64, workload="oltp", os_type="mac", storage="san", max_connections=500), {
        "max_connections": "500", "shared_buffers": "8GB", "effective_cache_size": "24GB", "maintenance_work_mem": "2GB",
        "checkpoint_completion_target": "0.9", "wal_buffers": "16MB", "default_statistics_target": "100",
        "random_page_cost": "1.1", "work_mem": "14873kB", "huge_pages": "off", "jit": "off", "wal_compression": "lz4",
        "autovacuum_max_workers": "5", "autovacuum_work_mem": "2GB", "io_method": "worker", "io_workers": "16",
        "min_wal_size": "2GB", "max_wal_size": "8GB", "max_worker_processes": "64", "max_parallel_workers_per_gather": "4",
        "max_parallel_workers": "64", "max_parallel_maintenance_workers": "4"}),
    # mixed, PG 12, less_ram, 4 CPUs: wal_buffers 31457kB -> 16MB, work_mem 3145728/((100+4)*3*2) = 5041, * 1.3 = 6553
    (dict(memory="4GB", cpus=4, workload="mixed", version=12, data_size="less_ram"), {
        "max_connections": "100", "shared_buffers": "1GB", "effective_cache_size": "3GB", "maintenance_work_mem": "256MB",
        "checkpoint_completion_target": "0.9", "wal_buffers": "16MB", "default_statistics_target": "100",
        "random_page_cost": "1.1", "effective_io_concurrency": "200", "work_mem": "6553kB", "huge_pages": "off",
        "jit": "off", "wal_compression": "on", "min_wal_size": "1GB", "max_wal_size": "4GB",
        "max_worker_processes": "4", "max_parallel_workers_per_gather": "2", "max_parallel_workers": "4",
        "max_parallel_maintenance_workers": "2"}),
]


@pytest.mark.parametrize("inputs, expected", FULL_CASES)
def test_full_output_in_pgtune_order(inputs, expected):
    result = settings(**inputs)
    assert result == expected
    assert list(result) == list(expected)


# Reference section 7: PG 17, linux, web, ssd, 8 CPUs, 200 connections.
@pytest.mark.parametrize("memory, shared_buffers, cache, maintenance, wal_buffers, work_mem, huge_pages", [
    ("512MB", "128MB", "384MB", "32MB", "3932kB", "4MB", "off"),
    ("1GB", "256MB", "768MB", "64MB", "7864kB", "4MB", "off"),
    ("2GB", "512MB", "1536MB", "128MB", "16MB", "4MB", "off"),
    ("4GB", "1GB", "3GB", "256MB", "16MB", "5041kB", "off"),
    ("8GB", "2GB", "6GB", "512MB", "16MB", "10082kB", "try"),
    ("16GB", "4GB", "12GB", "1GB", "16MB", "20164kB", "try"),
    ("23GB", "5888MB", "17664MB", "1472MB", "16MB", "28987kB", "try"),
    ("32GB", "8GB", "24GB", "2GB", "16MB", "40329kB", "try"),
    ("64GB", "16GB", "48GB", "4GB", "16MB", "80659kB", "try"),
])
def test_reference_worked_values(memory, shared_buffers, cache, maintenance, wal_buffers, work_mem, huge_pages):
    result = settings(memory=memory, cpus=8, version=17)
    assert (result["shared_buffers"], result["effective_cache_size"], result["maintenance_work_mem"], result["wal_buffers"],
            result["work_mem"], result["huge_pages"]) == (shared_buffers, cache, maintenance, wal_buffers, work_mem, huge_pages)


def test_values_are_bytes_and_numbers():
    values = tune(memory="16GB", cpus=4)["values"]
    assert values["shared_buffers"] == 4 * GIB
    assert values["work_mem"] == 20560 * 1024
    assert values["random_page_cost"] == 1.1
    assert values["max_connections"] == 200
    assert values["huge_pages"] == "try"


@pytest.mark.parametrize("workload, connections, statistics, min_wal, max_wal, jit", [
    ("web", "200", "100", "1GB", "4GB", "off"),
    ("oltp", "300", "100", "2GB", "8GB", "off"),
    ("dw", "40", "500", "4GB", "16GB", None),
    ("desktop", "20", "100", "100MB", "2GB", None),
    ("mixed", "100", "100", "1GB", "4GB", "off"),
])
def test_every_workload(workload, connections, statistics, min_wal, max_wal, jit):
    result = settings(memory="16GB", workload=workload)
    assert result["max_connections"] == connections
    assert result["default_statistics_target"] == statistics
    assert (result["min_wal_size"], result["max_wal_size"]) == (min_wal, max_wal)
    assert result.get("jit") == jit
    assert ("wal_level" in result) == (workload == "desktop")


# 16GB, no CPUs (N = 8): (M - SB) = 12582912 kB; web (200+8)*3 -> 20164; dw (40+8)*3, /2 -> 43690;
# oltp (300+8)*3 -> 13617; desktop SB = 1GB, (20+8)*3, /6 -> 15728640/504 = 31207; mixed (100+8)*3, /2 -> 19418
@pytest.mark.parametrize("workload, work_mem", [
    ("web", "20164kB"), ("oltp", "13617kB"), ("dw", "43690kB"), ("desktop", "31207kB"), ("mixed", "19418kB"),
])
def test_work_mem_by_workload(workload, work_mem):
    assert settings(memory="16GB", workload=workload)["work_mem"] == work_mem


@pytest.mark.parametrize("storage, data_size, workload, cost, io_concurrency", [
    ("ssd", "mid_ram", "web", "1.1", "200"),
    ("hdd", "mid_ram", "web", "4", "2"),
    ("san", "mid_ram", "web", "1.1", "300"),
    ("nvme", "mid_ram", "web", "1.1", "1000"),
    ("hdd", "less_ram", "web", "1.1", "2"),
    ("ssd", "mid_ram", "dw", "4", "200"),
    ("ssd", "less_ram", "dw", "1.1", "200"),
])
def test_storage(storage, data_size, workload, cost, io_concurrency):
    result = settings(memory="16GB", storage=storage, data_size=data_size, workload=workload)
    assert (result["random_page_cost"], result["effective_io_concurrency"]) == (cost, io_concurrency)


@pytest.mark.parametrize("os_type, io_concurrency, huge_pages, io_method", [
    ("linux", "200", "try", "io_uring"),
    ("windows", None, "try", "worker"),
    ("mac", None, "off", "worker"),
])
def test_every_os(os_type, io_concurrency, huge_pages, io_method):
    result = settings(memory="128GB", os_type=os_type)
    assert result.get("effective_io_concurrency") == io_concurrency
    assert result["huge_pages"] == huge_pages
    assert result["io_method"] == io_method


@pytest.mark.parametrize("version, jit, compression, maintenance_workers, io_method", [
    (10, None, "on", None, None),
    (11, None, "on", "2", None),
    (12, "off", "on", "2", None),
    (14, "off", "on", "2", None),
    (15, "off", "lz4", "2", None),
    (17, "off", "lz4", "2", None),
    (18, "off", "lz4", "2", "io_uring"),
])
def test_version_boundaries(version, jit, compression, maintenance_workers, io_method):
    result = settings(memory="16GB", cpus=4, version=version)
    assert result.get("jit") == jit
    assert result["wal_compression"] == compression
    assert result.get("max_parallel_maintenance_workers") == maintenance_workers
    assert result["max_parallel_workers"] == "4"
    assert result.get("io_method") == io_method


@pytest.mark.parametrize("cpus", [None, 1, 2, 3])
def test_fewer_than_4_cpus_no_parallel_lines_and_pg_default_8_workers(cpus):
    result = settings(memory="16GB", cpus=cpus)
    assert not [name for name in result if "parallel" in name or name == "max_worker_processes"]
    assert result["work_mem"] == "20164kB"  # 12582912 / ((200 + 8) * 3)


# PGTune's selectParallelSettings jest cases
@pytest.mark.parametrize("cpus, version, workload, expected", [
    (12, 13, "web", ("12", "4", "12", "4")),
    (12, 10, "web", ("12", "4", "12", None)),
    (31, 10, "web", ("31", "4", "31", None)),
    (31, 12, "dw", ("31", "16", "31", "4")),
])
def test_parallel_settings(cpus, version, workload, expected):
    result = settings(memory="16GB", cpus=cpus, version=version, workload=workload)
    assert (result["max_worker_processes"], result["max_parallel_workers_per_gather"], result["max_parallel_workers"],
            result.get("max_parallel_maintenance_workers")) == expected


@pytest.mark.parametrize("os_type, version, maintenance, work_mem, autovacuum_work_mem", [
    ("linux", 17, "8GB", "2796202kB", "2GB"),
    ("windows", 17, "2047MB", "2047MB", None),
    ("windows", 18, "8GB", "2796202kB", "2GB"),
])
def test_big_memory_caps(os_type, version, maintenance, work_mem, autovacuum_work_mem):
    # 256GB, 20 connections, 4 CPUs: work_mem 201326592/((20+4)*3) = 2796202.7 (PGTune's jest comment: 2796202)
    result = settings(memory="256GB", cpus=4, max_connections=20, os_type=os_type, version=version)
    assert result["maintenance_work_mem"] == maintenance
    assert result["work_mem"] == work_mem
    assert result.get("autovacuum_work_mem") == autovacuum_work_mem


def test_windows_maintenance_below_cap_unchanged():
    assert settings(memory="16GB", os_type="windows", version=17)["maintenance_work_mem"] == "1GB"


@pytest.mark.parametrize("data_size, work_mem", [
    ("less_ram", "104856kB"),   # 80659 * 13 // 10
    ("mid_ram", "80659kB"),
    ("greater_ram", "72593kB"),  # 80659 * 0.9
])
def test_data_size_scales_work_mem(data_size, work_mem):
    assert settings(memory="64GB", data_size=data_size)["work_mem"] == work_mem


def test_work_mem_floor_4mb():
    assert settings(memory="4GB", cpus=4, max_connections=9999)["work_mem"] == "4MB"


@pytest.mark.parametrize("cpus, os_type, expected", [
    (None, "mac", None), (8, "mac", None), (32, "mac", "8"), (64, "mac", "16"), (256, "mac", "32"), (256, "linux", None),
])
def test_io_workers(cpus, os_type, expected):
    assert settings(memory="16GB", cpus=cpus, os_type=os_type).get("io_workers") == expected


@pytest.mark.parametrize("cpus, expected", [(8, None), (16, "4"), (31, "4"), (32, "5")])
def test_autovacuum_max_workers(cpus, expected):
    assert settings(memory="16GB", cpus=cpus).get("autovacuum_max_workers") == expected


@pytest.mark.parametrize("memory, workload, expected", [
    ("4GB", "web", "off"), ("8GB", "web", "try"), ("16GB", "desktop", "off"), ("32GB", "desktop", "try"),
])
def test_huge_pages_by_shared_buffers(memory, workload, expected):
    assert settings(memory=memory, workload=workload)["huge_pages"] == expected


def test_small_wal_buffers():
    # desktop 512MB: SB 32768kB, 3% = 983kB
    assert settings(memory="512MB", workload="desktop")["wal_buffers"] == "983kB"


def test_warnings():
    assert tune(memory="4GB", version=14)["warnings"] == []
    assert len(tune(memory="4GB", version=15)["warnings"]) == 1
    assert [w.split()[0] for w in tune(memory="4GB")["warnings"]] == ["wal_compression", "io_method"]
    assert len(tune(memory="4GB", version=18, os_type="mac")["warnings"]) == 1
    high = tune(memory="256GB", version=14)["warnings"]
    assert len(high) == 1 and "very high memory" in high[0]
    dw = tune(memory="16GB", version=14, workload="dw", storage="nvme")["warnings"]
    assert len(dw) == 1 and "NVMe drives" in dw[0]
    assert tune(memory="16GB", version=14, workload="dw", storage="hdd")["warnings"] == []


def test_inputs_are_normalised():
    assert tune(memory=16 * GIB, version="17.4", workload="OLTP")["inputs"] == {
        "memory": 16 * GIB, "cpus": None, "max_connections": None, "storage": "ssd", "workload": "oltp", "version": 17,
        "os_type": "linux", "data_size": "mid_ram"}


@pytest.mark.parametrize("inputs, words", [
    (dict(memory="16GB", workload="batch"), ["workload", "web, oltp, dw, desktop, mixed"]),
    (dict(memory="16GB", storage="floppy"), ["storage", "ssd, hdd, san, nvme"]),
    (dict(memory="16GB", os_type="bsd"), ["os_type", "linux, windows, mac"]),
    (dict(memory="16GB", data_size="huge"), ["data_size", "less_ram"]),
    (dict(memory="16GB", version=9), ["version", "10 to 18"]),
    (dict(memory="16GB", version=19), ["version", "10 to 18"]),
    (dict(memory="256MB"), ["memory", "512MB"]),
    (dict(memory="16 gigs"), ["memory", "512MB"]),
    (dict(memory=-1), ["memory", "negative"]),
    (dict(), ["memory", "required"]),
    (dict(memory="16GB", cpus=0), ["cpus", "at least 1"]),
    (dict(memory="16GB", cpus=True), ["cpus"]),
    (dict(memory="16GB", max_connections=10), ["max_connections", "at least 20"]),
    (dict(memory="16GB", ram="1GB"), ["ram", "allowed: memory, cpus"]),
    (dict(memory=float("inf")), ["memory", "got inf"]),
    (dict(memory=10 ** 30), ["memory", "must be a size between 0 B and 1024.0 TiB"]),
    (dict(memory="\u0661\u0666G"), ["memory", "not a valid size"]),
    (dict(memory="16GB", cpus=10 ** 30), ["cpus", "at most 4096"]),
    (dict(memory="16GB", cpus="\u0661\u0662"), ["cpus", "a whole number at least 1 and at most 4096"]),
    (dict(memory="16GB", cpus=float("nan")), ["cpus", "got nan"]),
    (dict(memory="16GB", max_connections=10 ** 20), ["max_connections", "at most 262143"]),
    (dict(memory="16GB", version="\u0661\u0667"), ["version", "10 to 18"]),
])
def test_bad_input(inputs, words):
    with pytest.raises(PgTuneError) as error:
        normalise_inputs(inputs)
    for word in words:
        assert word in str(error.value)
