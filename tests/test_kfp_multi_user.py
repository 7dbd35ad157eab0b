"""Kubeflow as most teams run it: credentials, profile namespaces, and schedules one can manage.

Every test drives the real kfp 2.5.0 client through `imgpipe` (pipeline.cli.main)
against the fake KFP API of tests/fake_kfp.py, told to behave like a multi-user
Kubeflow behind its authenticating proxy.
"""
import logging
import os
import tempfile

import pytest

from pipeline.cli import main

TOKEN = "tok-3f9a8c1e5b7d2046-alice"      # what a bearer token of team-a's owner looks like here
COOKIE = "authservice_session=ck-7e21c9d04b8a6f35"
OTHER = "tok-0000000000000000-mallory"   # a token the server does not know
NS = "team-a"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No credential from the machine running the tests; kfp's context file kept under tmp_path."""
    import kfp

    for name in ("IMGPIPE_KFP_TOKEN", "IMGPIPE_KFP_COOKIE", "KF_PIPELINES_SA_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context" / "context.json"))


@pytest.fixture
def kubeflow(fake_kfp, tmp_path):
    """A multi-user KFP where TOKEN and COOKIE may use team-a, and files holding them."""
    fake_kfp.multi_user = True
    fake_kfp.tokens = {TOKEN: {NS}}
    fake_kfp.cookies = {COOKIE: {NS}}
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "cookie").write_text(COOKIE + "\n")
    (tmp_path / "other-token").write_text(OTHER)
    return fake_kfp


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _sent(fake, header):
    """The values of `header` on every request the server got (one per request)."""
    return [r["headers"].get(header) for r in fake.requests]


def _mutations(fake):
    return [(r["method"], r["path"]) for r in fake.requests if r["method"] != "GET"]


# Every verb that talks to KFP, as a user types it ({pkg}: the compiled spec).
VERBS = {
    "submit": ["submit", "--package", "{pkg}"],
    "schedule": ["schedule", "--package", "{pkg}", "--cron", "0 0 3 * * *", "--job-name", "nightly"],
    "schedule --replace": ["schedule", "--package", "{pkg}", "--cron", "0 0 4 * * *", "--job-name", "nightly",
                           "--replace"],
    "schedules list": ["schedules", "list"],
    "schedules pause": ["schedules", "pause", "nightly"],
    "schedules resume": ["schedules", "resume", "rr-1"],
    "schedules delete": ["schedules", "delete", "nightly"],
}


# --------------------------------------------------------------------------- credentials

@pytest.mark.parametrize("source", ["--token-file", "IMGPIPE_KFP_TOKEN", "--cookie-file", "IMGPIPE_KFP_COOKIE",
                                    "KF_PIPELINES_SA_TOKEN_PATH"])
def test_each_credential_source_reaches_the_api_through_the_kfp_client(kubeflow, tmp_path, monkeypatch,
                                                                       capsys, source):
    args = ["schedules", "list", "--host", kubeflow.url, "--namespace", NS]
    if source.startswith("--"):
        args += [source, str(tmp_path / source[2:].split("-")[0])]
    elif source == "KF_PIPELINES_SA_TOKEN_PATH":  # the projected in-cluster token
        monkeypatch.setenv(source, str(tmp_path / "token"))
    else:
        monkeypatch.setenv(source, TOKEN if "TOKEN" in source else COOKIE)
    rc, out, err = _run(capsys, *args)
    assert rc == 0, err
    assert out.strip() == "No schedules in namespace 'team-a'."
    if "cookie" in source.lower():
        assert set(_sent(kubeflow, "cookie")) == {COOKIE} and set(_sent(kubeflow, "authorization")) == {None}
    else:
        assert set(_sent(kubeflow, "authorization")) == {f"Bearer {TOKEN}"}
    assert all(r["query"].get("namespace") == NS for r in kubeflow.requests if "recurringruns" in r["path"])


@pytest.mark.parametrize("args, env, tried", [
    (["--token-file", "{tmp}/other-token"], {}, "the bearer token from --token-file {tmp}/other-token"),
    ([], {"IMGPIPE_KFP_TOKEN": OTHER}, "the bearer token from $IMGPIPE_KFP_TOKEN"),
    ([], {"IMGPIPE_KFP_COOKIE": "authservice_session=expired-0123456789"},
     "the session cookie from $IMGPIPE_KFP_COOKIE"),
    ([], {"KF_PIPELINES_SA_TOKEN_PATH": "{tmp}/other-token"},
     "the service-account token from $KF_PIPELINES_SA_TOKEN_PATH ({tmp}/other-token)"),
    ([], {}, "no credential"),
])
def test_a_refused_credential_is_named_by_kind_and_source_in_one_line(kubeflow, tmp_path, monkeypatch, capsys,
                                                                      args, env, tried):
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    rc, out, err = _run(capsys, "schedules", "list", "--host", kubeflow.url, "--namespace", NS,
                        *[a.format(tmp=tmp_path) for a in args])
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"answered 401 Unauthorized to {tried.format(tmp=tmp_path)}: " in err
    assert OTHER not in err and "expired-0123456789" not in err
    assert [r["path"] for r in kubeflow.requests] == ["/apis/v2beta1/healthz"]  # one try, no retry sleeps
    if not args and not env:
        assert "--token-file PATH or $IMGPIPE_KFP_TOKEN" in err and "--cookie-file" in err


@pytest.mark.parametrize("cookie", ["authservice_session=expired-0123456789", None])
def test_a_login_page_instead_of_kfp_is_named_not_taken_for_an_answer(kubeflow, kfp_yaml, tmp_path, monkeypatch,
                                                                      capsys, cookie):
    """Dex behind Istio answers an expired session with a redirect to its login page, not a 401."""
    kubeflow.login_redirect = True
    if cookie:
        monkeypatch.setenv("IMGPIPE_KFP_COOKIE", cookie)
    rc, out, err = _run(capsys, "submit", "--package", kfp_yaml, "--host", kubeflow.url, "--namespace", NS)
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"the KFP API at {kubeflow.url} redirected to a web page (/dex/auth), not KFP's JSON: " in err
    assert ("the login proxy did not accept the session cookie from $IMGPIPE_KFP_COOKIE; the login session may "
            "have expired" if cookie else "the login proxy wants a credential; this KFP needs a credential") in err
    assert [r["path"] for r in kubeflow.requests] == ["/apis/v2beta1/healthz", "/dex/auth"]
    assert "expired-0123456789" not in err


def test_a_web_page_that_is_not_kfp_is_named(fake_kfp, kfp_yaml, capsys):
    rc, out, err = _run(capsys, "submit", "--package", kfp_yaml, "--host", fake_kfp.url + "/dex")
    assert rc == 1 and "/dex answered with a web page, not KFP's JSON: check that --host is the KFP API" in err


@pytest.mark.parametrize("content, message", [
    ("", "--token-file {path} is empty"),
    (f"Bearer {TOKEN}", "--token-file {path} starts with 'Bearer ': keep only the token"),
    (None, "cannot read --token-file {path}: No such file or directory"),
])
def test_an_unusable_token_file_is_refused_before_any_request(fake_kfp, tmp_path, capsys, content, message):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    rc, out, err = _run(capsys, "schedules", "list", "--host", fake_kfp.url, "--token-file", str(path))
    assert rc == 2 and message.format(path=path) in err and fake_kfp.requests == []
    assert TOKEN not in err


def test_cookie_and_credential_combinations_that_cannot_work_are_named(fake_kfp, tmp_path, monkeypatch, capsys):
    (tmp_path / "cookie").write_text("ck-7e21c9d04b8a6f35")  # the value without its name
    rc, out, err = _run(capsys, "schedules", "list", "--host", fake_kfp.url, "--cookie-file",
                        str(tmp_path / "cookie"))
    assert rc == 2 and "is not a cookie: write name=value, e.g. authservice_session=<value>" in err
    assert "ck-7e21c9d04b8a6f35" not in err
    rc, out, err = _run(capsys, "schedules", "list", "--host", fake_kfp.url, "--cookie-file", "c",
                        "--token-file", "t")
    assert rc == 2 and "give --token-file or --cookie-file, not both" in err
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "not-mounted"))
    rc, out, err = _run(capsys, "schedules", "list", "--host", fake_kfp.url)
    assert rc == 2 and f"$KF_PIPELINES_SA_TOKEN_PATH names {tmp_path}/not-mounted, which does not exist" in err
    assert fake_kfp.requests == []


def test_kfp_flags_with_the_vertex_target_are_refused(capsys):
    rc, out, err = _run(capsys, "submit", "--target", "vertex", "--package", "p.json", "--namespace", NS)
    assert rc == 2 and "--namespace apply to --target kfp only" in err


# --------------------------------------------------------------------------- namespaces

def test_submit_and_schedule_create_the_experiment_and_runs_in_the_namespace(kubeflow, kfp_yaml, tmp_path,
                                                                              capsys):
    auth = ["--host", kubeflow.url, "--namespace", NS, "--token-file", str(tmp_path / "token")]
    rc, out, err = _run(capsys, "submit", "--package", kfp_yaml, "--experiment", "nightly", *auth)
    assert rc == 0 and "Run created: run-1" in out, err
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--experiment", "nightly",
                        "--cron", "0 0 3 * * *", "--job-name", "nightly-3am", *auth)
    assert rc == 0 and "Recurring run created: rr-1 (cron 0 0 3 * * *, max concurrency 1, catch-up off)" in out
    assert kubeflow.posted("/experiments") == [{"display_name": "nightly", "namespace": NS}]  # made once
    assert kubeflow.recurring_runs["rr-1"]["namespace"] == NS
    assert kubeflow.posted("/runs")[0]["experiment_id"] == kubeflow.posted("/recurringruns")[0]["experiment_id"]
    listed = [r for r in kubeflow.requests if r["path"] == "/apis/v2beta1/experiments" and r["method"] == "GET"]
    assert len(listed) == 2 and all(r["query"]["namespace"] == NS for r in listed)


@pytest.mark.parametrize("verb", ["submit", "schedule", "schedules list", "schedules delete"])
def test_a_namespace_the_identity_may_not_use_is_a_clear_403(kubeflow, kfp_yaml, tmp_path, capsys, verb):
    kubeflow.add_recurring_run("nightly", "team-b")
    argv = [a.format(pkg=kfp_yaml) for a in VERBS[verb]]
    rc, out, err = _run(capsys, *argv, "--host", kubeflow.url, "--namespace", "team-b",
                        "--token-file", str(tmp_path / "token"))
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert (f"answered 403 Forbidden to the bearer token from --token-file {tmp_path}/token for namespace "
            "'team-b': check that it is your profile namespace") in err
    assert _mutations(kubeflow) == [] and list(kubeflow.recurring_runs) == ["rr-1"]


def test_a_multi_user_kfp_without_namespace_asks_for_one(kubeflow, tmp_path, capsys):
    rc, out, err = _run(capsys, "schedules", "list", "--host", kubeflow.url,
                        "--token-file", str(tmp_path / "token"))
    assert rc == 2 and "is multi-user: pass --namespace <your profile namespace>" in err
    assert [r["path"] for r in kubeflow.requests] == ["/apis/v2beta1/healthz"]


def test_without_namespace_the_one_kfp_keeps_in_its_context_file_is_used(kubeflow, tmp_path, capsys):
    import json

    import kfp
    kubeflow.add_recurring_run("nightly", NS)
    os.makedirs(os.path.dirname(kfp.Client._LOCAL_KFP_CONTEXT))
    with open(kfp.Client._LOCAL_KFP_CONTEXT, "w") as f:
        json.dump({"namespace": NS}, f)  # what `kfp` remembers after set_user_namespace
    rc, out, err = _run(capsys, "schedules", "pause", "nightly", "--host", kubeflow.url,
                        "--token-file", str(tmp_path / "token"))
    assert rc == 0 and "Paused schedule 'nightly' (rr-1) in namespace 'team-a'" in out, err


# --------------------------------------------------------------------------- every verb, good and bad credential



@pytest.mark.parametrize("verb", list(VERBS))
@pytest.mark.parametrize("credential", ["good", "bad"])
def test_every_verb_with_a_good_and_a_bad_credential(kubeflow, kfp_yaml, tmp_path, capsys, verb, credential):
    kubeflow.add_recurring_run("nightly", NS)
    before = {k: dict(v) for k, v in kubeflow.recurring_runs.items()}
    token = tmp_path / ("token" if credential == "good" else "other-token")
    argv = [a.format(pkg=kfp_yaml) for a in VERBS[verb]]
    rc, out, err = _run(capsys, *argv, "--host", kubeflow.url, "--namespace", NS, "--token-file", str(token))
    if credential == "bad":
        assert rc == 1 and "answered 401 Unauthorized to the bearer token from --token-file" in err
        assert kubeflow.recurring_runs == before and _mutations(kubeflow) == []
        return
    assert rc == 0, err
    runs = kubeflow.recurring_runs
    expected = {"submit": ("Run created: run-1", before),
                "schedule": ("Recurring run created: rr-2", None),
                "schedule --replace": ("Replaced schedule 'nightly': deleted rr-1", None),
                "schedules list": ("nightly", before),
                "schedules pause": ("Paused schedule 'nightly' (rr-1) in namespace 'team-a'", None),
                "schedules resume": ("Resumed schedule 'nightly' (rr-1) in namespace 'team-a'", None),
                "schedules delete": ("Deleted schedule 'nightly' (rr-1) in namespace 'team-a'", {})}[verb]
    assert expected[0] in out
    if expected[1] is not None:
        assert runs == expected[1]
    if verb == "schedule":
        assert sorted(runs) == ["rr-1", "rr-2"]
    if verb == "schedule --replace":
        assert list(runs) == ["rr-2"] and runs["rr-2"]["status"] == "ENABLED"
    if verb == "schedules pause":
        assert runs["rr-1"]["status"] == "DISABLED"
    if verb == "schedules resume":
        assert runs["rr-1"]["status"] == "ENABLED"


# --------------------------------------------------------------------------- managing schedules

def test_list_shows_name_id_cron_state_created_and_pipeline_version_across_pages(fake_kfp, kfp_yaml, capsys):
    for i in range(101):  # the client asks for 100 a page
        fake_kfp.add_recurring_run(f"old-{i:03d}", enabled=i % 2 == 0)
    fake_kfp.add_recurring_run("by-version", pipeline_version_reference={
        "pipeline_id": "p-1", "pipeline_version_id": "v-42"})
    for name in ("nightly 3am", "nightly copy"):
        rc, out, err = _run(capsys, "schedule", "--host", fake_kfp.url, "--package", kfp_yaml,
                            "--cron", "0 0 3 * * *", "--job-name", name)
        assert rc == 0, err
    rc, out, err = _run(capsys, "schedules", "list", "--host", fake_kfp.url)
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["NAME", "ID", "CRON", "STATE", "CREATED", "PIPELINE", "VERSION"]
    assert len(lines) == 1 + 104
    assert lines[1].split() == ["old-000", "rr-1", "0", "0", "1", "*", "*", "*", "enabled", "2026-11-20",
                                "03:02", "UTC", "inline", "imgpipe"] + lines[1].split()[14:]
    assert "paused" in lines[2] and "v-42" in lines[102]
    nightly = [line for line in lines if line.startswith("nightly")]
    assert len(nightly) == 2 and all("0 0 3 * * *" in line and "enabled" in line for line in nightly)
    hashes = {line.split()[-1] for line in nightly}
    assert len(hashes) == 1 and len(hashes.pop()) == 12  # the same compiled spec: the same version
    pages = [r["query"].get("page_token") for r in fake_kfp.requests
             if r["path"] == "/apis/v2beta1/recurringruns" and r["method"] == "GET"]
    assert pages == [None, "100"]


def test_pause_resume_delete_by_id_or_name_and_clear_errors_for_ambiguous_or_missing(fake_kfp, capsys):
    fake_kfp.add_recurring_run("nightly")
    fake_kfp.add_recurring_run("weekly")
    fake_kfp.add_recurring_run("weekly")
    host = ["--host", fake_kfp.url]
    assert _run(capsys, "schedules", "pause", "nightly", *host)[0] == 0
    assert fake_kfp.recurring_runs["rr-1"]["status"] == "DISABLED"
    assert _run(capsys, "schedules", "resume", "rr-1", *host)[0] == 0
    assert fake_kfp.recurring_runs["rr-1"]["status"] == "ENABLED"
    rc, out, err = _run(capsys, "schedules", "delete", "weekly", *host)
    assert rc == 2
    assert "2 schedules in this KFP (no --namespace) are named 'weekly' (ids rr-2, rr-3): give the id" in err
    rc, out, err = _run(capsys, "schedules", "pause", "monthly", *host)
    assert rc == 2 and "no schedule with id or name 'monthly'" in err and "`imgpipe schedules list`" in err
    assert _run(capsys, "schedules", "delete", "rr-3", *host)[0] == 0
    assert sorted(fake_kfp.recurring_runs) == ["rr-1", "rr-2"]
    assert _mutations(fake_kfp) == [("POST", "/apis/v2beta1/recurringruns/rr-1:disable"),
                                    ("POST", "/apis/v2beta1/recurringruns/rr-1:enable"),
                                    ("DELETE", "/apis/v2beta1/recurringruns/rr-3")]


def test_replace_creates_the_new_one_paused_then_deletes_the_old_then_resumes(kubeflow, kfp_yaml, tmp_path,
                                                                              capsys):
    kubeflow.add_recurring_run("nightly", NS)
    kubeflow.add_recurring_run("nightly", NS)
    kubeflow.add_recurring_run("weekly", NS)
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--cron", "0 30 2 * * *", "--job-name",
                        "nightly", "--replace", "--host", kubeflow.url, "--namespace", NS,
                        "--cookie-file", str(tmp_path / "cookie"))
    assert rc == 0, err
    assert "Recurring run created: rr-4" in out and "deleted rr-1" in out and "deleted rr-2" in out
    assert _mutations(kubeflow)[-4:] == [("POST", "/apis/v2beta1/recurringruns"),
                                         ("DELETE", "/apis/v2beta1/recurringruns/rr-1"),
                                         ("DELETE", "/apis/v2beta1/recurringruns/rr-2"),
                                         ("POST", "/apis/v2beta1/recurringruns/rr-4:enable")]
    assert kubeflow.posted("/recurringruns")[0]["mode"] == "DISABLE"  # never two live schedules at once
    assert sorted(kubeflow.recurring_runs) == ["rr-3", "rr-4"]
    assert kubeflow.recurring_runs["rr-4"]["trigger"]["cron_schedule"]["cron"] == "0 30 2 * * *"


def test_replace_when_the_create_fails_keeps_the_old_schedule_and_says_so(kubeflow, kfp_yaml, tmp_path, capsys):
    kubeflow.add_recurring_run("nightly", NS)
    before = {k: dict(v) for k, v in kubeflow.recurring_runs.items()}
    kubeflow.fail_recurring_run_create = True
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--cron", "0 30 2 * * *", "--job-name",
                        "nightly", "--replace", "--host", kubeflow.url, "--namespace", NS,
                        "--token-file", str(tmp_path / "token"))
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "refused the request: 400" in err
    assert "nothing was replaced: schedule 'nightly' (rr-1) still runs as before" in err
    assert kubeflow.recurring_runs == before and not any(m == "DELETE" for m, _ in _mutations(kubeflow))
    assert "Bearer [redacted]" in err and TOKEN not in err  # the server echoed the header; we did not


def test_replace_when_the_old_one_cannot_be_deleted_leaves_the_new_one_paused_and_says_how_to_finish(
        kubeflow, kfp_yaml, tmp_path, capsys):
    kubeflow.add_recurring_run("nightly", NS)
    kubeflow.undeletable = {"rr-1"}
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--cron", "0 30 2 * * *", "--job-name",
                        "nightly", "--replace", "--host", kubeflow.url, "--namespace", NS,
                        "--token-file", str(tmp_path / "token"))
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert ("the new schedule rr-2 exists, paused, and schedule 'nightly' (rr-1) was not deleted: run "
            "`imgpipe schedules delete rr-1` then `imgpipe schedules resume rr-2`") in err
    assert kubeflow.recurring_runs["rr-1"]["status"] == "ENABLED"
    assert kubeflow.recurring_runs["rr-2"]["status"] == "DISABLED"


def test_replace_needs_a_job_name(fake_kfp, kfp_yaml, capsys):
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--cron", "0 0 3 * * *", "--replace",
                        "--host", fake_kfp.url)
    assert rc == 2 and "--replace needs --job-name NAME" in err and fake_kfp.requests == []


def test_concurrency_and_catch_up_come_from_the_config(fake_kfp, kfp_yaml, capsys):
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--cron", "0 0 3 * * *", "--host", fake_kfp.url,
                        "--set", "kubeflow.schedule_max_concurrency=3", "--set", "kubeflow.schedule_catchup=true")
    assert rc == 0 and "max concurrency 3, catch-up on" in out, err
    body = fake_kfp.posted("/recurringruns")[0]
    assert body["max_concurrency"] == 3 and body["no_catchup"] is False
    rc, out, err = _run(capsys, "schedule", "--package", kfp_yaml, "--cron", "0 0 3 * * *", "--host", fake_kfp.url,
                        "--set", "kubeflow.schedule_max_concurrency=0")
    assert rc == 2 and "kubeflow.schedule_max_concurrency: 0; expected an integer from 1 to 10" in err


# --------------------------------------------------------------------------- no secret anywhere

def test_no_token_or_cookie_value_appears_in_output_logs_specs_or_files(kubeflow, kfp_yaml, tmp_path,
                                                                        monkeypatch, capsys, caplog):
    """Every verb, with good and refused credentials and a server that echoes them back: the
    values appear nowhere a person or a later job could read them."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.DEBUG)
    kubeflow.add_recurring_run("nightly", NS)
    printed = []
    try:
        for creds in (["--token-file", str(tmp_path / "token")], ["--cookie-file", str(tmp_path / "cookie")],
                      ["--token-file", str(tmp_path / "other-token")]):
            for argv in VERBS.values():
                argv = [a.format(pkg=kfp_yaml) for a in argv]
                printed += _run(capsys, *argv, "--host", kubeflow.url, "--namespace", NS, *creds)[1:]
            kubeflow.fail_recurring_run_create = not kubeflow.fail_recurring_run_create
        monkeypatch.setenv("IMGPIPE_KFP_TOKEN", TOKEN)
        printed += _run(capsys, "schedules", "list", "--host", kubeflow.url)[1:]  # no namespace: refused
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert any("request from [redacted]" in text for text in printed)  # the echoing server was met
    assert sum(len(r["headers"].get("authorization") or r["headers"].get("cookie") or "") > 0
               for r in kubeflow.requests) > 20  # the secrets were sent where they belong: headers
    sent = [repr((r["path"], r["query"], r["body"])) for r in kubeflow.requests]
    logs = [caplog.text, log_file.read_text()]
    files = [p.read_text(errors="replace") for root in (tmp_path, os.path.dirname(kfp_yaml))
             for p in _files(root) if p.name not in ("token", "cookie", "other-token")]
    for secret in (TOKEN, COOKIE, COOKIE.split("=")[1], OTHER):
        for text in printed + sent + logs + files:
            assert secret not in text


def _files(root):
    from pathlib import Path
    return [p for p in Path(root).rglob("*") if p.is_file()]
