"""Submit and schedule a compiled pipeline: Kubeflow Pipelines v2 (kfp.Client) or Vertex AI.

Everything a user can get wrong is checked before any request goes out: the
package format, parameter names, required parameters, the cron format (KFP: 6
fields, seconds first; Vertex: 5 fields), the host name. Network and credential
failures become one-line `SubmitError`s the CLI prints without a traceback.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import socket
import urllib.parse
import warnings
from typing import Dict, Iterator, List, Optional

from pipeline.exit_codes import EXIT_FAILED, EXIT_USAGE
from pipeline.kubeflow.spec import (
    TRAIN_ARGS_PARAM,
    TRAIN_STEPS_ALIAS,
    load_pipeline_spec,
    package_format_problem,
    runtime_parameter_defaults,
    train_args_json,
)

CRON_FIELDS = {"kfp": 6, "vertex": 5}


class SubmitError(Exception):
    """A submission problem with a message the user can act on, and the exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- checks

def parse_params(items: List[str]) -> Dict[str, str]:
    """`k=v` strings -> {k: v}; `train_steps=N` is shorthand for the `train_args` JSON."""
    params: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SubmitError(f"cannot read --param {item!r}; write it as name=value, "
                              "e.g. data_root=gs://b/images")
        key, value = key.strip(), value.strip()
        if key == TRAIN_STEPS_ALIAS:
            if not value.isdigit():
                raise SubmitError(f"--param {item}: train_steps must be an integer >= 0 "
                                  "(0: the configured epochs)")
            key, value = TRAIN_ARGS_PARAM, train_args_json(int(value))
        params[key] = value
    return params


def check_params(package: str, params: Dict[str, str]) -> None:
    """Every name is a runtime parameter of the package; every parameter without a default is set."""
    defaults = runtime_parameter_defaults(package)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise SubmitError(f"unknown parameter(s) {', '.join(unknown)} for {package}; its runtime parameters: "
                          f"{', '.join(sorted(defaults))} (and train_steps=N as shorthand for train_args)")
    missing = sorted(n for n, d in defaults.items() if d is None and n not in params)
    if missing:
        raise SubmitError(f"{package} has no default for {', '.join(missing)}: pass --param "
                          + " ".join(f"{n}=..." for n in missing) + " (or compile with --data)")


def check_cron(cron: str, target: str) -> str:
    """KFP's cron (robfig/cron) has 6 fields, seconds first; Vertex AI's has the usual 5."""
    fields = cron.split()
    wanted = CRON_FIELDS[target]
    if len(fields) == wanted:
        return " ".join(fields)
    if target == "kfp" and len(fields) == 5:
        hint = f"KFP cron has 6 fields, seconds first: did you mean \"0 {' '.join(fields)}\"?"
    elif target == "vertex" and len(fields) == 6:
        hint = f"Vertex AI cron has 5 fields (no seconds): did you mean \"{' '.join(fields[1:])}\"?"
    else:
        hint = f"{target} cron needs {wanted} fields, e.g. " + (
            "\"0 0 3 * * *\" (03:00 daily)" if target == "kfp" else "\"0 3 * * *\" (03:00 daily)")
    raise SubmitError(f"invalid --cron {cron!r} ({len(fields)} fields): {hint}")


def check_package(package: str, target: str) -> None:
    """KFP takes the .yaml PipelineSpec; Vertex the PipelineJob .json."""
    problem = package_format_problem(target, package)
    if problem:
        raise SubmitError(f"--package {problem}: make one with `imgpipe compile --target {target}`")
    try:
        spec = load_pipeline_spec(package)
    except OSError as e:
        raise SubmitError(f"cannot read --package {package}: {e.strerror}") from None
    if "root" not in spec:
        raise SubmitError(f"{package} is not a compiled pipeline (no 'root' DAG); "
                          "make one with `imgpipe compile`")


def check_host(host: str) -> str:
    """The KFP API URL, with its host name resolved now so a typo is named at once."""
    url = urllib.parse.urlparse(host)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise SubmitError(f"--host {host!r} is not an http(s) URL; e.g. http://localhost:8080 after "
                          "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`")
    try:
        socket.getaddrinfo(url.hostname, url.port or (443 if url.scheme == "https" else 80))
    except socket.gaierror as e:
        raise SubmitError(f"unknown host {url.hostname!r} in --host {host}: {e.strerror}; "
                          "check the URL of the KFP API") from None
    return host.rstrip("/")


# --------------------------------------------------------------------------- Kubeflow Pipelines

@contextlib.contextmanager
def _connection_errors(host: str) -> Iterator[None]:
    """Connection refused/reset, timeouts and refused requests -> one SubmitError naming the host."""
    import kfp_server_api
    import urllib3
    try:
        yield
    except kfp_server_api.ApiException as e:
        body = (e.body or b"").decode("utf-8", "replace") if isinstance(e.body, bytes) else str(e.body or "")
        raise SubmitError(f"the KFP API at {host} refused the request: {e.status} {e.reason}: "
                          f"{_short(body)}", EXIT_FAILED) from None
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or e
        raise SubmitError(f"cannot reach the KFP API at {host}: {_short(reason)}. Is the server up "
                          "and the port right (e.g. `kubectl port-forward -n kubeflow "
                          "svc/ml-pipeline-ui 8080:80`)?", EXIT_FAILED) from None


def _short(reason: object) -> str:
    text = str(reason)
    for known in ("Connection refused", "Connection reset", "timed out"):
        if known.lower() in text.lower():
            return known
    return text.splitlines()[0][:200]


def _kfp_client(host: str):
    """kfp.Client, after one quick look at the health endpoint: the client itself retries a
    failing health check 5 times, 5 s apart, before saying anything."""
    import urllib.error
    import urllib.request

    import kfp

    try:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as kfp.Client
        no_proxy.open(f"{host}/apis/v2beta1/healthz", timeout=30).close()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise SubmitError(f"{host} has no KFP API (404 for /apis/v2beta1/healthz); point --host "
                              "at the KFP UI or ml-pipeline service", EXIT_FAILED) from None
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionError(getattr(e, "reason", e)) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2.0.0-beta.2 and later"
        return kfp.Client(host=host)


def kfp_submit(host: str, package: str, params: Dict[str, str], experiment: str,
               run_name: str = "", pipeline_root: Optional[str] = None) -> str:
    """Create one run from the compiled .yaml; return its run id."""
    host = check_host(host)
    check_package(package, "kfp")
    check_params(package, params)
    with _connection_errors(host):
        client = _kfp_client(host)
        result = client.create_run_from_pipeline_package(
            package, arguments=params, run_name=run_name or _default_name(package),
            experiment_name=experiment, pipeline_root=pipeline_root)
    return result.run_id


def kfp_schedule(host: str, package: str, params: Dict[str, str], experiment: str, cron: str,
                 job_name: str = "", pipeline_root: Optional[str] = None) -> str:
    """Create a recurring run (6-field cron, seconds first); return its id."""
    cron = check_cron(cron, "kfp")
    host = check_host(host)
    check_package(package, "kfp")
    check_params(package, params)
    with _connection_errors(host):
        client = _kfp_client(host)
        experiment_id = client.create_experiment(name=experiment).experiment_id
        job = client.create_recurring_run(
            experiment_id=experiment_id, job_name=job_name or _default_name(package, "schedule"),
            cron_expression=cron, params=params, pipeline_package_path=package,
            pipeline_root=pipeline_root, no_catchup=True, max_concurrency=1)
    return job.recurring_run_id


def _default_name(package: str, kind: str = "run") -> str:
    name = load_pipeline_spec(package).get("pipelineInfo", {}).get("name", "imgpipe")
    return f"{name} {kind} {datetime.datetime.now():%Y-%m-%d %H-%M-%S}"


# --------------------------------------------------------------------------- Vertex AI

def vertex_job(package: str, params: Dict[str, str], pipeline_root: Optional[str], project: str,
               region: str, display_name: str = "", credentials=None):
    """The `aiplatform.PipelineJob` for the compiled .json, validated by aiplatform itself.

    Without `credentials` it is built with anonymous ones: enough to validate the
    template and the parameters, not to submit.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    check_package(package, "vertex")
    check_params(package, params)
    if not project or not region:
        raise SubmitError("Vertex AI needs --project and --region "
                          "(e.g. --project my-proj --region us-central1)")
    try:
        return aiplatform.PipelineJob(
            display_name=display_name or _default_name(package).replace(" ", "-"),
            template_path=package, parameter_values=dict(params), pipeline_root=pipeline_root,
            project=project, location=region, enable_caching=False,
            credentials=credentials or AnonymousCredentials())
    except ValueError as e:
        raise SubmitError(f"Vertex AI rejects the job for {package}: {e}") from None


def vertex_credentials():
    """Application Default Credentials, or None when there are none."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError:
        return None
    return credentials


def require_credentials(credentials) -> None:
    """A SubmitError saying exactly what is missing when no credentials were found."""
    if credentials is None:
        raise SubmitError(
            "the Vertex AI job was built and validated, but submitting needs Google Cloud credentials "
            "and none were found: run `gcloud auth application-default login` or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file", EXIT_FAILED)


def vertex_submit(job, service_account: str = "") -> str:
    """Submit a job built by `vertex_job` with real credentials; return its resource name."""
    job.submit(service_account=service_account or None)
    return job.resource_name


def vertex_schedule(job, package: str, cron: str, job_name: str = "", service_account: str = "") -> str:
    """A Vertex AI pipeline schedule (5-field cron) for a job built by `vertex_job`; its resource name."""
    cron = check_cron(cron, "vertex")
    schedule = job.create_schedule(cron=cron, display_name=job_name or _default_name(package, "schedule"),
                                   service_account=service_account or None)
    return schedule.resource_name


def describe_vertex_job(job) -> str:
    """One line naming what the built job would run, for the CLI."""
    r = job._gca_resource  # aiplatform keeps the proto here; there is no public accessor before submit
    values = dict(r.runtime_config.parameter_values)  # proto-plus gives plain Python values
    return (f"Vertex AI job {r.display_name}: pipeline root {r.runtime_config.gcs_output_directory}, "
            f"parameters {json.dumps(values, sort_keys=True)}")
