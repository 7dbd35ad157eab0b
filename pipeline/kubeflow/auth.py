"""Who `imgpipe` is to the KFP API: one credential, handed to kfp.Client's own mechanisms.

The first of these that is given wins (docs/kubeflow-multi-user.md says which to use where):

  1. `--token-file PATH`   a bearer token in a file, re-read before each request
                           (kfp's ServiceAccountTokenVolumeCredentials with that path)
  2. `--cookie-file PATH`  a session cookie `name=value` from a Dex / oauth2-proxy login (kfp's `cookies=`)
  3. `$IMGPIPE_KFP_TOKEN`  a bearer token (kfp's `existing_token=`)
  4. `$IMGPIPE_KFP_COOKIE` a session cookie `name=value`
  5. the projected service-account token inside the cluster, when its file exists
     (`$KF_PIPELINES_SA_TOKEN_PATH`, else kfp's default /var/run/secrets/kubeflow/pipelines/token)

A credential is named by kind and source only: its value is never printed, logged or
put in a message, and `redact` removes it from any text a server sends back.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Mapping, Optional

TOKEN_ENV = "IMGPIPE_KFP_TOKEN"
COOKIE_ENV = "IMGPIPE_KFP_COOKIE"
DOCS = "docs/kubeflow-multi-user.md"


class CredentialError(ValueError):
    """A credential that cannot be used as given (missing file, empty, wrong shape)."""


@dataclasses.dataclass(frozen=True)
class Credential:
    """One credential: what it is, where it came from, and how kfp.Client takes it."""
    kind: str    # "bearer token", "session cookie", "service-account token" or "" (none)
    source: str  # e.g. "--token-file /path", "$IMGPIPE_KFP_TOKEN"
    client_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    secret: str = dataclasses.field(default="", repr=False)

    def describe(self) -> str:
        return f"the {self.kind} from {self.source}" if self.kind else "no credential"

    def redact(self, text: str) -> str:
        """`text` with every copy of the secret (and of each cookie value) replaced."""
        for piece in _secret_pieces(self.secret):
            text = text.replace(piece, "[redacted]")
        return text


NO_CREDENTIAL = Credential("", "")


def resolve_credential(token_file: str = "", cookie_file: str = "",
                       environ: Optional[Mapping[str, str]] = None) -> Credential:
    """The credential to use, in the documented order; CredentialError when one given is unusable."""
    environ = os.environ if environ is None else environ
    if token_file and cookie_file:
        raise CredentialError("give --token-file or --cookie-file, not both: the API is called as one identity")
    if token_file:
        return _token_file_credential(token_file, f"--token-file {token_file}")
    if cookie_file:
        return _cookie_credential(_read_secret_file(cookie_file, "--cookie-file"), f"--cookie-file {cookie_file}")
    if environ.get(TOKEN_ENV, "").strip():
        token = _check_token(environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}")
        return Credential("bearer token", f"${TOKEN_ENV}", {"existing_token": token}, token)
    if environ.get(COOKIE_ENV, "").strip():
        return _cookie_credential(environ[COOKIE_ENV].strip(), f"${COOKIE_ENV}")
    return _service_account_credential(environ)


def _token_file_credential(path: str, source: str, kind: str = "bearer token") -> Credential:
    """kfp re-reads the file before every request, so a rotated (projected) token keeps working."""
    from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

    token = _check_token(_read_secret_file(path, source.split()[0]), source)
    return Credential(kind, source, {"credentials": ServiceAccountTokenVolumeCredentials(path)}, token)


def _service_account_credential(environ: Mapping[str, str]) -> Credential:
    """The projected token kfp looks for inside a pod; none outside a cluster."""
    from kfp import client as kfp_client

    path = environ.get(kfp_client.KF_PIPELINES_SA_TOKEN_ENV, "")
    if path and not os.path.isfile(path):
        raise CredentialError(f"${kfp_client.KF_PIPELINES_SA_TOKEN_ENV} names {path}, which does not exist: "
                              "mount the projected service-account token there, or unset the variable")
    path = path or kfp_client.KF_PIPELINES_SA_TOKEN_PATH
    if not os.path.isfile(path):
        return NO_CREDENTIAL
    source = (f"${kfp_client.KF_PIPELINES_SA_TOKEN_ENV} ({path})"
              if environ.get(kfp_client.KF_PIPELINES_SA_TOKEN_ENV) else path)
    return _token_file_credential(path, source, kind="service-account token")


def _read_secret_file(path: str, flag: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise CredentialError(f"cannot read {flag} {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CredentialError(f"{flag} {path} is not a text file: it should hold the credential "
                              "on one line") from None


def _check_token(token: str, source: str) -> str:
    if not token:
        raise CredentialError(f"{source} is empty: it should hold the bearer token on one line")
    if token.lower().startswith("bearer "):
        raise CredentialError(f"{source} starts with 'Bearer ': keep only the token, the client adds the prefix")
    if len(token.split()) > 1:
        raise CredentialError(f"{source} holds more than one word: it should hold the bearer token only")
    return token


def _cookie_credential(cookie: str, source: str) -> Credential:
    """A `name=value` cookie string, as a browser sends it (several joined by '; ' are fine)."""
    pairs = [p.strip() for p in cookie.split(";") if p.strip()]
    if not pairs or any("=" not in p or not p.split("=", 1)[0].strip() for p in pairs):
        raise CredentialError(f"{source} is not a cookie: write name=value, e.g. authservice_session=<value> "
                              "or oauth2_proxy_kubeflow=<value>, copied from the browser after logging in")
    cookie = "; ".join(pairs)
    return Credential("session cookie", source, {"cookies": cookie}, cookie)


def _secret_pieces(secret: str):
    """The secret, and each cookie value on its own (a server may echo one without its name)."""
    if not secret:
        return []
    values = [p.split("=", 1)[1].strip() for p in secret.split(";") if "=" in p]
    return sorted({secret, *(v for v in values if len(v) >= 8)}, key=len, reverse=True)


_HINT_401 = {
    "": f"this KFP needs a credential: --token-file PATH or ${TOKEN_ENV} for a bearer token, "
        f"--cookie-file PATH or ${COOKIE_ENV} for a Dex session cookie ({DOCS})",
    "bearer token": "check that the token is current (tokens expire) and was issued for this cluster",
    "session cookie": "the login session may have expired: log in again in the browser and copy the new cookie",
    "service-account token": "check that the projected token's audience is pipelines.kubeflow.org and "
                             "that the pod's service account may use the KFP API",
}


def auth_failure(status: int, host: str, credential: Credential, namespace: str) -> str:
    """The one-line message for a 401 or 403: which credential was tried, and what to check."""
    if status == 401:
        return f"the KFP API at {host} answered 401 Unauthorized to {credential.describe()}: " + _HINT_401[
            credential.kind]
    where = f"namespace {namespace!r}" if namespace else "no --namespace"
    hint = ("check that it is your profile namespace (the namespace menu of the Kubeflow UI) and that the "
            "identity behind the credential is its owner or a contributor" if namespace else
            "a multi-user KFP needs --namespace <your profile namespace>")
    if not credential.kind:
        hint += f"; no credential was sent: pass --token-file or --cookie-file ({DOCS})"
    return f"the KFP API at {host} answered 403 Forbidden to {credential.describe()} for {where}: {hint}"


def login_page_failure(host: str, credential: Credential, location: str) -> str:
    """The message when a web page answers instead of KFP: most often a login proxy's sign-in page."""
    refused = (f"the login proxy did not accept {credential.describe()}" if credential.kind
               else "the login proxy wants a credential")
    if not location:
        return (f"{host} answered with a web page, not KFP's JSON: check that --host is the KFP API (e.g. "
                f"https://<kubeflow host>/pipeline); if it is behind a login, {refused}: " + _HINT_401[credential.kind])
    return (f"the KFP API at {host} redirected to a web page ({location}), not KFP's JSON: {refused}; "
            + _HINT_401[credential.kind])
