"""``dcom sweep`` on Dask (dcom.sweep, dcom.sweep_spec, dcom.sweep_report, dcom.farm) and the
sharded regression (dcom.tb.shard): points, cache, failures, report, loopback-only clusters,
TLS-only remotes."""

import argparse
import csv
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import dask
import psutil
import pytest


from dcom.config import ConfigError, DcomConfig
from dcom.farm import (farm_client, farm_requested, is_loopback, local_cluster,
                       scheduler_security)
from dcom.simulators import available
from dcom.sw.perf import Workload, lanczos_perf
from dcom.sweep import LOG_NAME, add_sweep_parser, run_sweep, sweep
from dcom.sweep_spec import Stages, SweepSpec, load_spec, point_key, spec_from_args
from dcom.sweep_report import metrics, pareto_front
from dcom.tb.regress import TESTS_DIR, summarize_junit
from dcom.tb.shard import (add_shard_options, collect, merge_junit, regress_on_farm,
                           shard_regress)

#: 3 x 2 x 2 = 12 combinations: 2x2 clusters allow no f = 8 (2 invalid), the 128 x 128 matrix
#: does not fit 2x2 clusters of 2x2 multipliers (a CompileError), the other 9 run.
SPEC = """
[config]
clusters = ["2x2", "4x4", "8x8"]
grid = ["2x2", "4x4"]
expansion = [4, 8]
buffer_depth = 1024

[workload]
batch = 2
seq = 128
hidden = 128
rank = 4
"""

# distributed is imported first, so that its configuration defaults exist before a test's
# dask.config.set touches distributed.* keys: set() undoes a key it created by deleting it
# whole, defaults loaded in between included.
importlib.import_module("distributed")


def _host(address: str) -> str:
    return address.split("://")[-1].rsplit(":", 1)[0].strip("[]")


def _listening(pids) -> list[str]:
    """IP addresses the processes ``pids`` listen on (TCP)."""
    found = []
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                found.append(conn.laddr.ip)
    return found


@pytest.fixture(scope="module")
def client():
    """A two-worker local cluster, as ``dcom sweep --workers 2`` starts."""
    with farm_client(workers=2) as client:
        yield client


@pytest.fixture
def spec(tmp_path) -> SweepSpec:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return load_spec(path)


def test_spec_points_and_invalid_ones(spec):
    points = spec.points()
    assert len(points) == 12
    invalid = [p for p in points if p.config is None]
    assert [p.label for p in invalid] == ["clusters=2x2 grid=2x2 expansion=8",
                                          "clusters=2x2 grid=4x4 expansion=8"]
    assert all("expansion=8 is not allowed" in p.error for p in invalid)
    assert {p.config.buffer_depth for p in points if p.config} == {1024}
    assert spec.workload == Workload(2, 128, 128, 4)


def test_spec_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[config]\nclusterz = ['4x4']\n")
    with pytest.raises(ConfigError, match="clusterz.*allowed values: .*clusters"):
        load_spec(bad)
    bad.write_text("[stages]\nsynth = 'most'\n")
    with pytest.raises(ConfigError, match="synth='most'.*none, cluster, full"):
        load_spec(bad)
    bad.write_text("config = 3\n")
    with pytest.raises(ConfigError, match="config=3.*a table"):
        load_spec(bad)
    bad.write_text("[config\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_spec(bad)


def _args(*argv):
    parser = argparse.ArgumentParser()
    add_sweep_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *argv])


def test_command_line_axes_override_the_spec(tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC)
    args = _args(str(tmp_path / "spec.toml"), "--clusters", "8x8,16x16", "--grid", "4x4,8x8",
                 "--expansion", "4,8,16", "--acc", "fp32,fp16", "--set", "clock_mhz=800,1000",
                 "--rank", "2", "--synth", "cluster", "-k", "bit_exact")
    spec = spec_from_args(args)
    assert len(spec.points()) == 2 * 2 * 3 * 2 * 2
    assert all(p.config is not None for p in spec.points())
    assert spec.axes["buffer_depth"] == (1024,)
    # The steps follow the new rank (default min(2 rank, S, H)).
    assert spec.workload == Workload(2, 128, 128, 2, 4)
    assert spec.stages == Stages(synth="cluster", regress="bit_exact")
    with pytest.raises(ConfigError, match="--expansion.*int values"):
        spec_from_args(_args("--expansion", "4,eight"))


def test_cache_key_covers_config_workload_stages():
    config, workload = DcomConfig(), Workload()
    key = point_key(config, workload, Stages())
    assert key == point_key(DcomConfig(), Workload(), Stages())
    assert key != point_key(config.replace(expansion=16), workload, Stages())
    assert key != point_key(config, Workload(batch=1), Stages())
    assert key != point_key(config, workload, Stages(synth="cluster"))


def test_pareto_front():
    assert pareto_front([1, 2, 3, 4, 2], [5, 3, 4, 1, 6]) == [0, 1, 3]


def test_local_cluster_is_loopback_only():
    with local_cluster(2) as cluster:
        nannies = list(cluster.workers.values())
        addresses = [cluster.scheduler_address, *(n.address for n in nannies),
                     *(n.worker_address for n in nannies)]
        assert len(addresses) == 5
        assert all(_host(a) == "127.0.0.1" for a in addresses)
        workers = [n.process.process.pid for n in nannies]
        listening = _listening([os.getpid(), *workers])
        assert listening and all(is_loopback(ip) for ip in listening)


def test_remote_plain_tcp_is_refused(tmp_path):
    for address in ("tcp://10.1.2.3:8786", "192.0.2.7:8786", "tcp://node17:8786"):
        with pytest.raises(ConfigError, match="tls://HOST:PORT.*--allow-insecure"):
            scheduler_security(address)
    # Refused before any connection is tried.
    with pytest.raises(ConfigError, match="--scheduler='tcp://10.1.2.3:8786'"):
        with farm_client(scheduler="tcp://10.1.2.3:8786"):
            pass
    assert run_sweep(_args("--expansion", "4", "--scheduler", "tcp://10.1.2.3:8786",
                           "--out", str(tmp_path / "out"))) == 2
    assert scheduler_security("tcp://127.0.0.1:8786") is None
    assert scheduler_security("tcp://10.1.2.3:8786", allow_insecure=True) is None
    with pytest.raises(ConfigError, match="ws://.*tcp://, tls://"):
        scheduler_security("ws://127.0.0.1:8786")


def test_tls_needs_certificates(tmp_path):
    empty = {"distributed.comm.tls.ca-file": None, "distributed.comm.tls.client.cert": None,
             "distributed.comm.tls.client.key": None}
    with dask.config.set(empty):
        with pytest.raises(ConfigError, match="--tls-ca-file and --tls-cert"):
            scheduler_security("tls://10.1.2.3:8786")
        with pytest.raises(ConfigError, match="--tls-ca-file='.*missing.pem'.*readable PEM"):
            scheduler_security("tls://10.1.2.3:8786", tls_ca_file=tmp_path / "missing.pem",
                               tls_cert=tmp_path / "missing.pem")
        ca, cert = tmp_path / "ca.pem", tmp_path / "client.pem"
        ca.write_text("CA\n")
        cert.write_text("CERT AND KEY\n")
        security = scheduler_security("tls://10.1.2.3:8786", tls_ca_file=ca, tls_cert=cert)
        assert security.require_encryption
        assert (security.tls_ca_file, security.tls_client_cert) == (str(ca), str(cert))
        with pytest.raises(ConfigError, match="tls:// address when TLS certificates"):
            scheduler_security("tcp://127.0.0.1:8786", tls_ca_file=ca, tls_cert=cert)
    with dask.config.set({"distributed.comm.tls.ca-file": str(ca),
                          "distributed.comm.tls.client.cert": str(cert)}):
        assert scheduler_security("tls://10.1.2.3:8786").tls_ca_file == str(ca)


def _check_sweep(result, out: Path, computed: int):
    assert (result.computed, result.cached, result.failed) == (computed, 10 - computed, 1)
    assert len(result.points) == 12 and len(result.invalid) == 2 and len(result.records) == 10
    failed = [r for r in result.records if r["status"] != "ok"]
    assert [r["label"] for r in failed] == ["clusters=2x2 grid=2x2 expansion=4"]
    (bad,) = failed
    assert bad["stage"] == "perf"
    assert bad["error"].startswith("CompileError: buffer_depth=1024 is too small")
    assert "CompileError" in bad["log_tail"] and "Traceback" in bad["log_tail"]
    assert Path(bad["log"]).name == LOG_NAME
    assert "needs 1254 words per cluster" in Path(bad["log"]).read_text()
    for record in result.records:
        if record["status"] == "ok":
            config = DcomConfig.from_dict(record["config"])
            assert record["perf"]["cycles"] == lanczos_perf(config, Workload(2, 128, 128, 4)) \
                .timing.total
            assert record["perf"]["prompt_s"] == pytest.approx(
                record["perf"]["cycles"] / (config.clock_mhz * 1e6))
    with open(result.files["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows].count("ok") == 9
    assert [r["status"] for r in rows].count("invalid") == 2
    data = json.loads(result.files["json"].read_text())
    assert data["summary"] == {"points": 12, "ok": 9, "failed": 1, "invalid": 2,
                               "computed": computed, "cached": 10 - computed,
                               "seconds": pytest.approx(result.seconds)}
    markdown = result.files["markdown"].read_text()
    assert "CompileError: buffer_depth=1024 is too small" in markdown
    assert "expansion=8 is not allowed" in markdown
    assert [p.name for p in result.files["charts"]] == \
        ["sweep-time-per-prompt-against-multipliers.png"]
    assert (out / "sweep.md") == result.files["markdown"]


def test_sweep_caches_and_reports_a_failing_point(client, spec, tmp_path):
    out = tmp_path / "out"
    lines = []
    first = sweep(spec, client, out, progress=lines.append)
    _check_sweep(first, out, computed=10)
    assert lines[0].startswith("dcom sweep: 12 points: 2 invalid, 0 cached, 10 to compute")
    assert sum(line.startswith("  [") for line in lines) == 10
    assert "[10/10]" in "".join(lines) and "1 failed so far" in lines[-3]
    logs = {r["key"]: Path(r["log"]).stat().st_mtime_ns for r in first.records}

    again = sweep(spec, client, out, progress=None)
    _check_sweep(again, out, computed=0)
    # The command line, on its own local cluster: everything cached, one point failed.
    assert run_sweep(_args(str(tmp_path / "spec.toml"), "--workers", "2", "--out", str(out))) == 1
    assert {r["source"] for r in again.records} == {"cached"}
    assert {r["key"]: Path(r["log"]).stat().st_mtime_ns for r in again.records} == logs
    assert [r.get("perf") for r in again.records] == [r.get("perf") for r in first.records]

    retried = sweep(spec, client, out, retry_failed=True, progress=None)
    _check_sweep(retried, out, computed=1)

    extended = SweepSpec({**spec.axes, "acc_format": ("fp32", "fp16")}, spec.workload)
    result = sweep(extended, client, out, progress=None)
    # The fp32 half is the earlier sweep's; only the fp16 points run.
    assert (result.computed, result.cached) == (10, 10)
    assert len(result.points) == 24 and result.failed == 2


def test_sweep_marks_the_papers_design_point(client, tmp_path):
    spec = SweepSpec({"clusters": ("8x8",), "grid": ("8x8",)}, Workload(1, 256, 256, 4),
                     paper_point=True)
    result = sweep(spec, client, tmp_path, progress=None)
    assert [r["label"] for r in result.records] == ["single point", "paper design point"]
    data = json.loads(result.files["json"].read_text())
    assert data["paper_point"] == result.records[1]["key"]
    assert "marked with a star" in result.files["markdown"].read_text()


def test_synth_and_regress_stages(client, tmp_path):
    """A tiny instance (2x2 clusters of one multiplier) through all three stages."""
    if available("icarus")[0] is None:
        pytest.skip("icarus is needed by the power flow and the regression")
    spec = SweepSpec({"clusters": ("2x2",), "grid": ("1x1",), "expansion": (4,),
                      "buffer_depth": (256,)}, Workload(1, 4, 4, 2),
                     Stages(synth="cluster", regress="cluster_bit_exact", sim="icarus"))
    result = sweep(spec, client, tmp_path, progress=None)
    (record,) = result.records
    assert record["status"] == "ok", record.get("log_tail")
    synth, perf = record["synth"], record["perf"]
    assert synth["area_mm2"] == pytest.approx(4 * synth["cluster_area_mm2"])
    assert synth["power_w"] > 0 and synth["fmax_mhz"] > 0
    figures = metrics(record)
    assert figures["energy_per_prompt_j"] == pytest.approx(synth["power_w"] * perf["prompt_s"])
    assert figures["prompt_s_met"] == pytest.approx(
        perf["cycles"] / (1e6 * min(1000.0, synth["fmax_mhz"])))
    assert Path(synth["report"]).is_file()
    assert (record["regress"]["passed"], record["regress"]["failed"]) == (1, 0)
    assert summarize_junit(Path(record["regress"]["junit"]))["icarus"]["passed"] == 1
    assert [p.name for p in result.files["charts"]] == [
        "sweep-time-per-prompt-against-area.png",
        "sweep-time-per-prompt-against-energy-per-prompt.png"]


def _wait_for(path: Path, process, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no {path} after {seconds} s"
        time.sleep(0.1)


def _certificates(folder: Path) -> dict:
    """A CA and a certificate it signs, made as docs/sweep.md shows, as farm_client's options."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=dcom dask CA", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=dcom dask", "-keyout",
            "dask.key", "-out", "dask.csr")
    openssl("x509", "-req", "-in", "dask.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-out", "dask.pem")
    return {"tls_ca_file": folder / "ca.pem", "tls_cert": folder / "dask.pem",
            "tls_key": folder / "dask.key"}


@pytest.mark.parametrize("protocol", ["tcp", "tls"])
def test_sweep_on_separately_started_scheduler_and_worker(spec, tmp_path, protocol):
    """As on a cluster: a scheduler and a worker process, started on their own (loopback),
    plain or with TLS certificates. Their HTTP servers (health, metrics, dashboard) listen on
    0.0.0.0 even with --no-dashboard, hence --dashboard-address on loopback."""
    tls, options = {}, []
    if protocol == "tls":
        if shutil.which("openssl") is None:
            pytest.skip("openssl makes the test's certificates")
        tls = _certificates(tmp_path)
        options = ["--tls-ca-file", str(tls["tls_ca_file"]), "--tls-cert", str(tls["tls_cert"]),
                   "--tls-key", str(tls["tls_key"])]
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--protocol", protocol,
         "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
         "--scheduler-file", str(scheduler_file), *options],
        stdout=log, stderr=subprocess.STDOUT)
    worker = None
    try:
        _wait_for(scheduler_file, scheduler)
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(scheduler_file), "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
             "--dashboard-address", "127.0.0.1:0", *options],
            stdout=log, stderr=subprocess.STDOUT)
        if tls:
            with pytest.raises(ConfigError, match="tls://127.0.0.1:.*--tls-ca-file"):
                with dask.config.set({"distributed.comm.tls.ca-file": None}):
                    with farm_client(scheduler_file=scheduler_file):
                        pass
        with farm_client(scheduler_file=scheduler_file, **tls) as client:
            client.wait_for_workers(1, timeout=60)
            assert client.scheduler.address.startswith(f"{protocol}://")
            assert is_loopback(_host(client.scheduler.address))
            assert all(is_loopback(_host(a)) for a in client.nthreads())
            result = sweep(spec, client, tmp_path / "out", progress=None)
            _check_sweep(result, tmp_path / "out", computed=10)
            processes = [scheduler.pid, *(c.pid for c in psutil.Process(worker.pid)
                                          .children(recursive=True)), worker.pid]
            assert all(is_loopback(ip) for ip in _listening(processes))
            client.shutdown()
        assert scheduler.wait(timeout=60) == 0
        assert worker.wait(timeout=60) == 0
    finally:
        for process in (worker, scheduler):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        log.close()


QUICK_FILES = [TESTS_DIR / "test_config.py", TESTS_DIR / "test_report.py"]


def test_shard_regress_per_file_merges_junit(client, tmp_path):
    ids = collect(marker=None, paths=QUICK_FILES)
    assert {i.split("::")[0] for i in ids} == {"tests/test_config.py", "tests/test_report.py"}
    report = shard_regress(client, marker=None, paths=QUICK_FILES, junit=tmp_path / "all.xml",
                           progress=None)
    assert report.status == 0
    assert [s["name"] for s in report.shards] == ["tests/test_config.py", "tests/test_report.py"]
    root = ET.parse(report.junit).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == len(ids) == int(root.get("tests"))
    assert len(list(root.iter("testsuite"))) == 2
    assert report.counts["none"]["passed"] == len(ids)


def test_shard_regress_per_test(client, tmp_path):
    select = "test_format_number or test_defaults_are_the_papers_design_point"
    report = shard_regress(client, select, marker=None, paths=QUICK_FILES, by="test",
                           junit=tmp_path / "two.xml", progress=None)
    assert report.status == 0 and len(report.shards) == 2
    names = sorted(c.get("name") for c in ET.parse(report.junit).getroot().iter("testcase"))
    assert names == ["test_defaults_are_the_papers_design_point", "test_format_number"]


def test_merge_counts_a_shard_without_xml_as_an_error(tmp_path):
    passed = ('<testsuites><testsuite name="pytest" tests="2" failures="0" errors="0" '
              'skipped="1" time="0.5"><testcase classname="t" name="a"/><testcase '
              'classname="t" name="b"><skipped/></testcase></testsuite></testsuites>')
    merged = merge_junit([{"name": "t.py", "xml": passed, "exit_status": 0, "log_tail": ""},
                          {"name": "u.py", "xml": None, "exit_status": 3,
                           "log_tail": "INTERNALERROR"}], tmp_path / "m.xml")
    root = ET.parse(merged).getroot()
    assert (root.get("tests"), root.get("errors"), root.get("skipped")) == ("3", "1", "1")
    assert summarize_junit(merged)["none"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert "INTERNALERROR" in merged.read_text()


def test_regress_options_ask_for_the_cluster_and_refuse_xdist_with_it():
    parser = argparse.ArgumentParser()
    add_shard_options(parser)
    assert not farm_requested(parser.parse_args([]))
    args = parser.parse_args(["--dask-workers", "2", "--shard-by", "test"])
    assert farm_requested(args) and (args.farm_workers, args.shard_by) == (2, "test")
    args.workers = 2
    with pytest.raises(ConfigError, match="--workers=2.*--dask-workers"):
        regress_on_farm(args)


def test_a_task_that_cannot_run_is_reported_and_not_cached(client, tmp_path):
    spec = SweepSpec({"clusters": ("4x4",), "grid": ("4x4",), "expansion": (4, 8)},
                     Workload(1, 128, 128, 4))
    blocked = tmp_path / "points" / point_key(spec.points()[0].config, spec.workload,
                                              spec.stages)
    blocked.parent.mkdir()
    blocked.write_text("a file where the point's folder goes")
    result = sweep(spec, client, tmp_path, progress=None)
    bad, good = result.records
    assert (bad["status"], bad["stage"]) == ("failed", "dask")
    assert bad["error"].startswith("FileExistsError")
    assert good["status"] == "ok" and result.failed == 1
    assert blocked.is_file()
