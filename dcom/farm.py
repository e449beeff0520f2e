"""Where dcom's distributed work runs: a Dask cluster that is local and loopback-only by default,
and remote only over TLS.

A Dask worker runs whatever function a client sends it, so anyone who can reach a scheduler
can run code as the user who started the workers. :func:`farm_client` therefore

* starts a :class:`distributed.LocalCluster` bound to ``127.0.0.1`` (scheduler, nannies and
  workers; no dashboard) when no scheduler is named, and checks that every address it got is
  a loopback one;
* connects to a named scheduler only over ``tls://`` with a CA certificate and a client
  certificate (given as options, in a :class:`distributed.security.Security` object, or in
  Dask's configuration, ``distributed.comm.tls.*``), or over plain ``tcp://`` to a loopback
  address; a plain ``tcp://`` address of another host is refused unless ``allow_insecure``.

``dcom sweep`` (:mod:`dcom.sweep`) and the sharded ``dcom regress`` (:mod:`dcom.tb.shard`) both
take their client from here; docs/sweep.md explains how to start a TLS scheduler and workers.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dcom.config import ConfigError

__all__ = ["LOCAL_HOST", "SCHEMES", "add_farm_options", "default_workers", "farm_client",
           "farm_from_args", "farm_requested", "is_loopback", "local_cluster",
           "read_scheduler_file", "scheduler_security"]

#: The only interface a local cluster listens on.
LOCAL_HOST = "127.0.0.1"
#: Schemes of scheduler addresses dcom connects to.
SCHEMES = ("tcp", "tls")
#: Seconds to wait for a remote scheduler to answer.
CONNECT_TIMEOUT_S = 30


def default_workers() -> int:
    """One worker per CPU core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address or ``localhost``) names this machine's loopback
    interface. Other host names are not resolved: a name is taken as remote."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_address(address: str, parameter: str) -> tuple[str, str]:
    """``(scheme, host)`` of a Dask address; ``HOST:PORT`` alone means ``tcp://``."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
    except ValueError:
        raise ConfigError(parameter, address, "an address such as tls://HOST:8786") from None
    if scheme not in SCHEMES:
        raise ConfigError(parameter, address,
                          "addresses with the schemes " + ", ".join(f"{s}://" for s in SCHEMES))
    try:
        host, _ = parse_host_port(location)
    except ValueError:
        raise ConfigError(parameter, address, "an address such as tls://HOST:8786") from None
    return scheme, host


def _readable(path, parameter: str) -> str:
    path = Path(path)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ConfigError(parameter, str(path), "a readable PEM file")
    return str(path)


def scheduler_security(address: str, *, tls_ca_file=None, tls_cert=None, tls_key=None,
                       security=None, allow_insecure: bool = False, parameter: str = "--scheduler"):
    """Check that dcom may connect to the scheduler at ``address`` and return the security
    settings to connect with.

    Parameters
    ----------
    address : str
        ``tls://HOST:PORT`` or ``tcp://HOST:PORT`` (``HOST:PORT`` is ``tcp://``).
    tls_ca_file, tls_cert, tls_key : path, optional
        The CA certificate that signed the scheduler's and workers' certificates, and this
        client's certificate and private key (the key may be appended to the certificate).
    security : distributed.security.Security, optional
        Settings to use as they are, instead of the three files.
    allow_insecure : bool
        Accept a plain ``tcp://`` address of another host.
    parameter : str
        Name of the option that gave ``address``, for error messages.

    Returns
    -------
    distributed.security.Security or None
        None for a plain ``tcp://`` address.

    Raises
    ------
    ConfigError
        For a ``tls://`` address without a CA and client certificate (options, ``security``
        or Dask's configuration), TLS files given with a ``tcp://`` address, or a ``tcp://``
        address of another host without ``allow_insecure``.
    """
    from distributed.security import Security

    scheme, host = _split_address(address, parameter)
    files = {"--tls-ca-file": tls_ca_file, "--tls-cert": tls_cert, "--tls-key": tls_key}
    given = {name: path for name, path in files.items() if path is not None}
    if scheme == "tcp":
        if given or (security is not None and security.require_encryption):
            raise ConfigError(parameter, address,
                              "a tls:// address when TLS certificates are given")
        if not is_loopback(host) and not allow_insecure:
            raise ConfigError(
                parameter, address,
                "tls://HOST:PORT with --tls-ca-file, --tls-cert and --tls-key (a Dask worker "
                "runs any code it is sent, and plain tcp:// is neither encrypted nor "
                "authenticated), a loopback tcp:// address (127.0.0.1, ::1, localhost), or "
                "--allow-insecure to accept the risk")
        if not is_loopback(host):
            print(f"warning: {parameter} {address}: plain tcp:// to another host "
                  f"(--allow-insecure): anyone who can reach it can run code on its workers",
                  file=sys.stderr)
        return None
    if security is not None and given:
        raise ConfigError("security", "a Security object with --tls-* files",
                          "one of them: the Security object or the files")
    if security is None:
        if given:
            paths = {name: _readable(path, name) for name, path in given.items()}
            security = Security(tls_ca_file=paths.get("--tls-ca-file"),
                                tls_client_cert=paths.get("--tls-cert"),
                                tls_client_key=paths.get("--tls-key"), require_encryption=True)
        else:
            # Security() reads distributed.comm.tls.* from Dask's configuration files.
            security = Security(require_encryption=True)
    if not security.tls_ca_file or not security.tls_client_cert:
        raise ConfigError(parameter, address,
                          "a tls:// address together with --tls-ca-file and --tls-cert (and "
                          "--tls-key unless the key is in the certificate file), or "
                          "distributed.comm.tls.ca-file and distributed.comm.tls.client.cert "
                          "in Dask's configuration")
    return security


def read_scheduler_file(path) -> str:
    """The scheduler address a ``dask scheduler --scheduler-file`` wrote.

    Raises
    ------
    ConfigError
        If the file is missing or holds no address.
    """
    path = Path(path)
    try:
        address = json.loads(path.read_text(encoding="utf-8"))["address"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError("--scheduler-file", str(path),
                          "a JSON file with the scheduler's address, as written by "
                          "dask scheduler --scheduler-file") from None
    if not isinstance(address, str):
        raise ConfigError("--scheduler-file", str(path), "a file whose 'address' is a string")
    return address


def local_cluster(workers: int | None = None):
    """A :class:`distributed.LocalCluster` of ``workers`` processes (default one per core), one
    thread each, listening on :data:`LOCAL_HOST` only, without a dashboard.

    Raises
    ------
    ConfigError
        If ``workers`` is not a positive integer.
    RuntimeError
        If the scheduler or a worker is not on a loopback address.
    """
    from distributed import LocalCluster

    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError("workers", workers, "integers >= 1")
    # Without a dashboard the scheduler still serves HTTP (health, metrics), by default on
    # port 8787: a free loopback port instead, so that several sweeps can run side by side.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host=LOCAL_HOST, scheduler_port=0, dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": f"{LOCAL_HOST}:0"},
                           worker_dashboard_address=None, silence_logs=logging.ERROR)
    nannies = list(cluster.workers.values())
    addresses = [cluster.scheduler_address, *(n.address for n in nannies),
                 *(n.worker_address for n in nannies)]
    exposed = [a for a in addresses if not is_loopback(_split_address(a, "address")[1])]
    if exposed:
        cluster.close()
        raise RuntimeError(f"the local cluster listens beyond loopback: {', '.join(exposed)}")
    return cluster


@contextmanager
def farm_client(*, workers: int | None = None, scheduler: str | None = None,
                scheduler_file=None, tls_ca_file=None, tls_cert=None, tls_key=None,
                security=None, allow_insecure: bool = False) -> Iterator:
    """A :class:`distributed.Client`: of a new :func:`local_cluster` unless ``scheduler`` or
    ``scheduler_file`` names one to connect to (see :func:`scheduler_security`). The local
    cluster is shut down on exit; a remote one is only disconnected from.

    Raises
    ------
    ConfigError
        For both ``scheduler`` and ``scheduler_file``, ``workers`` with either, or an address
        :func:`scheduler_security` refuses.
    """
    from distributed import Client

    if scheduler is not None and scheduler_file is not None:
        raise ConfigError("--scheduler-file", str(scheduler_file),
                          "no scheduler file when --scheduler is given")
    parameter = "--scheduler"
    if scheduler_file is not None:
        scheduler, parameter = read_scheduler_file(scheduler_file), "--scheduler-file"
    if scheduler is None:
        with local_cluster(workers) as cluster, Client(cluster) as client:
            yield client
        return
    if workers is not None:
        raise ConfigError("workers", workers, "no worker count with a remote scheduler (its "
                                              "workers are started with it)")
    security = scheduler_security(scheduler, tls_ca_file=tls_ca_file, tls_cert=tls_cert,
                                  tls_key=tls_key, security=security,
                                  allow_insecure=allow_insecure, parameter=parameter)
    with Client(scheduler, security=security, timeout=CONNECT_TIMEOUT_S) as client:
        yield client


def add_farm_options(parser: argparse.ArgumentParser, workers_flag: str = "--workers") -> None:
    """Add the options of :func:`farm_client` to ``parser``, the local worker count as
    ``workers_flag`` (``dcom sweep --workers``; ``dcom regress --dask-workers``, whose
    ``--workers`` is pytest-xdist's)."""
    group = parser.add_argument_group(
        "distributed engine (Dask)",
        "a local cluster on 127.0.0.1 by default; a remote scheduler only over TLS "
        "(docs/sweep.md)")
    group.add_argument(workers_flag, dest="farm_workers", type=int, metavar="N",
                       help=f"workers of the local cluster, one process and thread each "
                            f"(default {default_workers()}, one per core)")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler, tls://HOST:PORT (or tcp:// on "
                            "127.0.0.1)")
    where.add_argument("--scheduler-file", type=Path, metavar="FILE",
                       help="the file dask scheduler --scheduler-file wrote (e.g. in a Slurm "
                            "job)")
    group.add_argument("--tls-ca-file", type=Path, metavar="PEM",
                       help="CA certificate the scheduler's and workers' certificates are "
                            "signed with")
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="this client's certificate")
    group.add_argument("--tls-key", type=Path, metavar="PEM",
                       help="this client's private key (omit if it is in --tls-cert)")
    group.add_argument("--allow-insecure", action="store_true",
                       help="accept a plain tcp:// scheduler on another host (its workers run "
                            "any code anyone who reaches it sends)")


def farm_requested(args: argparse.Namespace) -> bool:
    """Whether the options of :func:`add_farm_options` ask for a Dask cluster at all."""
    return any(getattr(args, name, None) is not None
               for name in ("farm_workers", "scheduler", "scheduler_file"))


def farm_from_args(args: argparse.Namespace):
    """:func:`farm_client` with the options of :func:`add_farm_options`."""
    return farm_client(workers=args.farm_workers, scheduler=args.scheduler,
                       scheduler_file=args.scheduler_file, tls_ca_file=args.tls_ca_file,
                       tls_cert=args.tls_cert, tls_key=args.tls_key,
                       allow_insecure=args.allow_insecure)
