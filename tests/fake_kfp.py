"""A fake KFP v2beta1 API on 127.0.0.1, answering what kfp 2.5.0's Client sends (fixture module).

It keeps experiments and recurring runs in memory and records every request
(method, path, query, body, headers). Told to, it behaves like a multi-user
Kubeflow behind its authenticating proxy: a bearer token or a session cookie
names an identity, a missing or unknown one gets 401, and every call is checked
against the namespaces that identity may use (403 otherwise; a list without a
namespace gets KFP's 400).
"""
from __future__ import annotations

import datetime
import http.server
import json
import threading
import urllib.parse
from typing import Dict, List, Optional, Set

API = "/apis/v2beta1"


class FakeKfp:
    """State and switches of one fake server; `url` once started."""

    def __init__(self):
        self.url = ""
        self.requests: List[dict] = []
        self.multi_user = False
        self.tokens: Dict[str, Set[str]] = {}   # bearer token -> namespaces it may use
        self.cookies: Dict[str, Set[str]] = {}  # "name=value" -> namespaces
        self.fail_recurring_run_create = False  # answer 400 to the next creates (echoing the credential)
        self.login_redirect = False  # without a valid credential: 302 to a login page (Dex), not 401
        self.undeletable: Set[str] = set()  # recurring run ids whose delete fails (500)
        self.experiments: Dict[str, dict] = {}
        self.recurring_runs: Dict[str, dict] = {}
        self._clock = datetime.datetime(2026, 11, 20, 3, 0, tzinfo=datetime.timezone.utc)
        self.lock = threading.Lock()

    @property
    def auth_required(self) -> bool:
        return bool(self.tokens or self.cookies)

    def add_recurring_run(self, name: str, namespace: str = "", enabled: bool = True, **extra) -> str:
        """A schedule that exists before the test (as if made earlier, by hand or by imgpipe)."""
        experiment_id = self._experiment("Default", namespace)["experiment_id"]
        return self._create_recurring_run({"display_name": name, "experiment_id": experiment_id,
                                           "mode": "ENABLE" if enabled else "DISABLE",
                                           "trigger": {"cron_schedule": {"cron": "0 0 1 * * *"}},
                                           "pipeline_spec": {"pipelineInfo": {"name": "imgpipe"}}, **extra})

    def posted(self, path: str) -> List[dict]:
        return [r["body"] for r in self.requests if r["method"] == "POST" and r["path"] == API + path]

    # ---------------------------------------------------------------- state

    def _now(self) -> str:
        self._clock += datetime.timedelta(minutes=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _experiment(self, name: str, namespace: str) -> dict:
        for e in self.experiments.values():
            if e["display_name"] == name and e.get("namespace", "") == namespace:
                return e
        experiment = {"experiment_id": f"exp-{len(self.experiments) + 1}", "display_name": name,
                      "namespace": namespace, "created_at": self._now()}
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def _create_recurring_run(self, body: dict) -> str:
        rid = f"rr-{len(self.recurring_runs) + 1}"
        namespace = self.experiments[body["experiment_id"]]["namespace"]
        self.recurring_runs[rid] = {**body, "recurring_run_id": rid, "namespace": namespace,
                                    "created_at": self._now(),
                                    "status": "ENABLED" if body.get("mode") == "ENABLE" else "DISABLED"}
        return rid


class _Handler(http.server.BaseHTTPRequestHandler):
    fake: FakeKfp

    def do_GET(self):
        self._handle(None)

    def do_DELETE(self):
        self._handle(None)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(json.loads(self.rfile.read(length) or b"{}"))

    def _handle(self, body: Optional[dict]) -> None:
        url = urllib.parse.urlparse(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        with self.fake.lock:
            self.fake.requests.append({"method": self.command, "path": url.path, "query": query,
                                       "body": body, "headers": {k.lower(): v for k, v in self.headers.items()}})
            status, payload = self._route(url.path, query, body)
        self._send(payload, status)

    def _route(self, path: str, query: dict, body: Optional[dict]):
        if path.startswith("/dex/"):  # the login app: a web page at every path
            return 200, "<html><body>Log in to Kubeflow</body></html>"
        if not path.startswith(API + "/"):
            return 404, {"error": "not found"}
        allowed = self._identity()
        if allowed is None and self.fake.login_redirect:
            return 302, "/dex/auth?client_id=kubeflow-oidc-authservice&state=3c1f"
        if allowed is None:
            return 401, {"error": "Unauthorized: no valid credential", "code": 16}
        route = path[len(API) + 1:]
        if route == "healthz":
            return 200, {"multi_user": self.fake.multi_user}
        if route.startswith("experiments"):
            return self._experiments(allowed, query, body)
        if route == "runs" and self.command == "POST":
            return self._create_run(allowed, body)
        if route.startswith("recurringruns"):
            return self._recurring_runs(route[len("recurringruns"):], allowed, query, body)
        return 404, {"error": "not found"}

    def _identity(self) -> Optional[Set[str]]:
        """The namespaces the caller may use; None when the server wants a credential it did not get."""
        if not self.fake.auth_required:
            return {"*"}
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer ") and header[7:] in self.fake.tokens:
            return self.fake.tokens[header[7:]]
        return self.fake.cookies.get(self.headers.get("Cookie", ""))

    def _denied(self, allowed: Set[str], namespace: Optional[str], what: str):
        """KFP's own namespace checks: None when the call may go on, else (status, payload)."""
        if not self.fake.multi_user:
            return None
        if not namespace:
            return 400, {"error": f"Invalid input error: In multi-user mode, {what} requires namespace", "code": 3}
        if "*" not in allowed and namespace not in allowed:
            return 403, {"error": f"PermissionDenied: user is not authorized to {what} in namespace "
                                  f"{namespace}", "code": 7}
        return None

    def _experiments(self, allowed, query, body):
        if self.command == "POST":
            denied = self._denied(allowed, body.get("namespace"), "CreateExperiment")
            return denied or (200, self.fake._experiment(body["display_name"], body.get("namespace") or ""))
        namespace = query.get("namespace", "")
        denied = self._denied(allowed, namespace, "ListExperiments")
        if denied:
            return denied
        names = [p["stringValue"] for p in json.loads(query.get("filter") or '{"predicates": []}')["predicates"]]
        found = [e for e in self.fake.experiments.values()
                 if e["namespace"] == namespace and (not names or e["display_name"] in names)]
        return 200, ({"experiments": found, "total_size": len(found)} if found else {})

    def _create_run(self, allowed, body):
        if body["display_name"] == "rejected":
            return 400, {"error": "invalid pipeline spec", "code": 3}
        namespace = self.fake.experiments[body["experiment_id"]]["namespace"]
        return self._denied(allowed, namespace, "CreateRun") or (200, {**body, "run_id": "run-1"})

    def _recurring_runs(self, rest: str, allowed, query, body):
        if not rest and self.command == "POST":
            namespace = self.fake.experiments[body["experiment_id"]]["namespace"]
            denied = self._denied(allowed, namespace, "CreateRecurringRun")
            if denied:
                return denied
            if self.fake.fail_recurring_run_create:  # a server that echoes what it got must not leak it
                sent = self.headers.get("Authorization") or self.headers.get("Cookie")
                return 400, {"error": f"Invalid input error: cannot schedule (request from {sent})", "code": 3}
            return 200, self.fake.recurring_runs[self.fake._create_recurring_run(body)]
        if not rest:
            return self._list_recurring_runs(allowed, query)
        rid, _, verb = rest.lstrip("/").partition(":")
        run = self.fake.recurring_runs.get(rid)
        if run is None:
            return 404, {"error": f"recurring run {rid} not found", "code": 5}
        denied = self._denied(allowed, run["namespace"], f"{verb or self.command} a recurring run")
        if denied:
            return denied
        if self.command == "DELETE" and rid in self.fake.undeletable:
            return 500, {"error": f"Internal error: failed to delete recurring run {rid}", "code": 13}
        if self.command == "DELETE":
            del self.fake.recurring_runs[rid]
        elif verb in ("enable", "disable"):
            run["mode"], run["status"] = ("ENABLE", "ENABLED") if verb == "enable" else ("DISABLE", "DISABLED")
        return 200, ({} if self.command == "DELETE" or verb else run)

    def _list_recurring_runs(self, allowed, query):
        namespace = query.get("namespace", "")
        denied = self._denied(allowed, namespace, "ListRecurringRuns")
        if denied:
            return denied
        runs = [r for r in self.fake.recurring_runs.values() if not self.fake.multi_user
                or r["namespace"] == namespace]
        start, size = int(query.get("page_token") or 0), int(query.get("page_size") or 10)
        page = runs[start:start + size]
        more = start + size < len(runs)
        return 200, {"recurringRuns": page, "total_size": len(runs),  # KFP's proto names it so
                     **({"next_page_token": str(start + size)} if more else {})}

    def _send(self, payload, status=200):
        """JSON; a str payload is an HTML page, or with 302 the Location to go to."""
        html = isinstance(payload, str)
        data = (payload if html and status != 302 else "" if html else json.dumps(payload)).encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", payload)
        self.send_header("Content-Type", "text/html" if html else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start(fake: FakeKfp, lifetime_s: float = 120):
    """Serve `fake` on 127.0.0.1 in a thread; returns a stop function. Shuts down after `lifetime_s`."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    watchdog = threading.Timer(lifetime_s, server.shutdown)
    watchdog.start()

    def stop():
        watchdog.cancel()
        server.shutdown()
        server.server_close()
    return stop
