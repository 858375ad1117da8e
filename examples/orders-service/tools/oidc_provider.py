"""A local OpenID provider for development and tests: never run it in production.

It stands in for the company's identity provider on loopback (`make run`, `make token`, the
tests): discovery, JWKS, and a token endpoint that issues RFC 9068 JWT access tokens signed with
the keys of a local key file. Its clients and its only user are fixed and public:

- `local-service` / `local-dev-secret`, a confidential client (client_credentials grant);
- `swagger-ui`, a public client (authorization code grant with PKCE S256) whose redirect URI is
  the service's `/docs/oauth2-redirect` on 127.0.0.1 or localhost, any port;
- `local-developer`, the user whom `/authorize` approves at once, without a login page.

The key file is a JWK set with private keys: the first key signs, every key is published. It is
read again whenever it changes, so a test rotates keys by rewriting it (`write_key_set`).

    python tools/oidc_provider.py serve [--port 8090] [--ready-file PATH]
    python tools/oidc_provider.py run --env-prefix ORDERS_ -- python -m orders  # service + provider
    python tools/oidc_provider.py token [--scope "items:read"] [--openapi openapi.json]
    python tools/oidc_provider.py rotate
"""

# Authlib ships no type information: its classes are `Any` to mypy, and several are subclassed.
# mypy: disallow-subclassing-any=False

import argparse
import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar, Final, TypedDict, cast
from urllib.parse import urlsplit

import httpx
from authlib.integrations.flask_oauth2 import (  # type: ignore[import-untyped]
    AuthorizationServer,
)
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    grants,
)
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator  # type: ignore[import-untyped]
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode  # type: ignore[import-untyped]
from flask import Flask, Response, jsonify, request
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8090
MAX_PORT: Final = 65535
DEFAULT_KEYS: Final = Path(".data/oidc-provider/keys.json")
DEFAULT_AUDIENCE: Final = "local-service"
DEFAULT_TOKEN_SECONDS: Final = 300

SERVICE_CLIENT_ID: Final = "local-service"
# Published on purpose: this provider only ever runs on a developer's machine or in tests.
SERVICE_CLIENT_SECRET: Final = "local-dev-secret"  # noqa: S105
DOCS_CLIENT_ID: Final = "swagger-ui"
DEVELOPER: Final = "local-developer"

SIGNING_ALGORITHM: Final = "RS256"
RSA_KEY_BITS: Final = 2048
CODE_SECONDS: Final = 600
DOCS_REDIRECT_PATH: Final = "/docs/oauth2-redirect"
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
SECRET_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")
CORS_HEADERS: Final = {
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Requested-With",
    "Vary": "Origin",
}


class KeySetJSON(TypedDict):
    """A JWK set as JSON (RFC 7517, section 5)."""

    keys: list[dict[str, Any]]


class ProviderError(Exception):
    """A failure the command line reports in one line, with exit status 1."""


class KeyFileError(ProviderError):
    """The key file cannot be read as a JWK set whose first key is a private RSA key."""


def generate_key_set() -> KeySetJSON:
    """A new JWK set of one private RSA-2048 signing key whose kid is its RFC 7638 thumbprint."""
    key = RSAKey.generate_key(
        RSA_KEY_BITS, parameters={"use": "sig", "alg": SIGNING_ALGORITHM}, auto_kid=True
    )
    return {"keys": [dict(key.as_dict(private=True))]}


def write_key_set(path: Path, keys: KeySetJSON) -> None:
    """Replace the key file at once, readable by its owner only, creating its directory."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_atomically(path, json.dumps(keys, indent=2) + "\n")


def load_key_set(path: Path) -> KeySetJSON:
    """The key file's JWK set, checked: its first key must be a private RSA key."""
    return _read_key_set(path)[0]


def rotate_key_set(path: Path, keep: int = 2) -> str:
    """Put a new signing key first in the key file, keep `keep` keys in all; return its kid."""
    old = load_key_set(path)["keys"] if path.exists() else []
    new = generate_key_set()["keys"]
    write_key_set(path, {"keys": (new + old)[:keep]})
    return str(new[0]["kid"])


def _read_key_set(path: Path) -> tuple[KeySetJSON, KeySet]:
    """The key file as JSON and as imported keys."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise KeyFileError(f"cannot read the key file {path}: {error}") from error
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise KeyFileError(f"the key file {path} is not a JWK set with at least one key")
    try:
        key_set = KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise KeyFileError(
            f"the key file {path} holds a key that cannot be imported: {error}"
        ) from error
    if len(key_set.keys) != len(keys):
        raise KeyFileError(f"the key file {path} holds a key of a type unknown to joserfc")
    first = key_set.keys[0]
    if not isinstance(first, RSAKey) or not first.is_private:
        raise KeyFileError(f"the first key of the key file {path} must be a private RSA key")
    return {"keys": keys}, key_set


@dataclass
class KeyFile:
    """The key file, read again only when its inode, size or times change."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stamp: tuple[int, int, int, int] | None = None
    _keys: KeySet | None = None
    _public: KeySetJSON | None = None

    def ensure(self) -> None:
        """Create the key file with one new key when it is absent, else check it."""
        if self.path.exists():
            self._current()
        else:
            write_key_set(self.path, generate_key_set())

    def signing_keys(self) -> KeySet:
        """A key set of the signing key alone: Authlib then names it by kid in the header."""
        keys, _ = self._current()
        return KeySet([keys.keys[0]])

    def public(self) -> KeySetJSON:
        """The public keys, as served at `jwks_uri`."""
        _, public = self._current()
        return public

    def _current(self) -> tuple[KeySet, KeySetJSON]:
        try:
            stat = self.path.stat()
        except OSError as error:
            raise KeyFileError(f"cannot read the key file {self.path}: {error}") from error
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        with self._lock:
            if stamp != self._stamp or self._keys is None or self._public is None:
                _, self._keys = _read_key_set(self.path)
                public = self._keys.as_dict(private=False)["keys"]
                self._public = {"keys": [dict(key) for key in public]}
                self._stamp = stamp
            return self._keys, self._public


@dataclass(frozen=True)
class User:
    """The development user whom `/authorize` approves."""

    sub: str

    def get_user_id(self) -> str:
        """The `sub` claim."""
        return self.sub


@dataclass(frozen=True)
class Client(ClientMixin):
    """A fixed client: confidential with a secret, public (PKCE) without one."""

    client_id: str
    secret: str | None
    grant_types: frozenset[str]

    @property
    def auth_methods(self) -> tuple[str, ...]:
        """How the client authenticates at the token endpoint."""
        return SECRET_AUTH_METHODS if self.secret else ("none",)

    def get_client_id(self) -> str:
        """The client id."""
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        """None: the authorization request must name its redirect URI."""

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """Any scope the client asks for, normalised; None (invalid_scope) for a bad token."""
        tokens = (scope or "").split()
        if not all(token.isprintable() for token in tokens):
            return None
        return " ".join(dict.fromkeys(tokens))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Only the public client redirects, to a loopback `/docs/oauth2-redirect`."""
        return self.secret is None and is_docs_redirect_uri(redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        """Compare in constant time."""
        return self.secret is not None and secrets.compare_digest(
            self.secret.encode(), client_secret.encode()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Secret methods for the confidential client, `none` for the public one."""
        return endpoint != "token" or method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        """`code` for the client of the authorization code grant."""
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        """The client's own grant types."""
        return grant_type in self.grant_types


CLIENTS: Final = {
    SERVICE_CLIENT_ID: Client(
        SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, frozenset({"client_credentials"})
    ),
    DOCS_CLIENT_ID: Client(DOCS_CLIENT_ID, None, frozenset({"authorization_code"})),
}


def is_docs_redirect_uri(uri: str) -> bool:
    """`http://127.0.0.1:<port>/docs/oauth2-redirect`, or the same on localhost or [::1]."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname in LOOPBACK_HOSTS
        and port is not None
        and parts.username is None
        and parts.password is None
        and parts.path == DOCS_REDIRECT_PATH
        and not parts.query
        and not parts.fragment
    )


@dataclass(frozen=True)
class AuthorizationCode(AuthorizationCodeMixin):
    """A code issued by `/authorize`, kept in memory until it is used or expires."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        """The redirect URI of the authorization request."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The scope granted."""
        return self.scope

    def get_nonce(self) -> str | None:
        """The OpenID Connect nonce of the authorization request."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the development user was "authenticated": when the code was issued."""
        return self.auth_time


@dataclass
class CodeStore:
    """Authorization codes in memory: single use, valid for CODE_SECONDS."""

    _codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, code: AuthorizationCode) -> None:
        """Keep a new code, dropping the expired ones."""
        now = time.monotonic()
        with self._lock:
            self._codes = {k: v for k, v in self._codes.items() if v.expires_at > now}
            self._codes[code.code] = code

    def find(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The unexpired code issued to the client."""
        with self._lock:
            found = self._codes.get(code)
        if found is None or found.client_id != client_id or found.expires_at <= time.monotonic():
            return None
        return found

    def remove(self, code: str) -> None:
        """Forget a used code."""
        with self._lock:
            self._codes.pop(code, None)

    def has_nonce(self, client_id: str, nonce: str) -> bool:
        """Whether a pending code of the client carries the nonce (a replay)."""
        with self._lock:
            return any(c.client_id == client_id and c.nonce == nonce for c in self._codes.values())


class Provider(AuthorizationServer):
    """Authlib's Flask authorization server with the fixed clients and in-memory codes."""

    def __init__(self, app: Flask, codes: CodeStore) -> None:
        self.codes = codes
        super().__init__(app)

    def query_client(self, client_id: str) -> Client | None:
        """One of the fixed clients."""
        return CLIENTS.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Nothing to save: JWT access tokens are verified, never looked up."""


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """RFC 9068 access tokens signed by the key file's first key, for one audience."""

    def __init__(self, issuer: str, keys: KeyFile, audience: str, token_seconds: int) -> None:
        super().__init__(issuer, alg=SIGNING_ALGORITHM, expires_generator=token_seconds)
        self.keys = keys
        self.audience = audience

    def get_jwks(self) -> KeySet:
        """The signing key, read from the key file when it changed."""
        return self.keys.signing_keys()

    def get_audiences(self, client: Client, user: User | None, scope: str) -> str:
        """The service's audience; a requested `resource` or `audience` is ignored."""
        return self.audience


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials with the secret in HTTP Basic or in the form."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[tuple[str, ...]] = SECRET_AUTH_METHODS


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """The authorization code grant of the public client, codes kept in the server's store."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[tuple[str, ...]] = ("none",)

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Keep the code with its PKCE challenge and the approving user."""
        client: Client = request.client
        payload = request.payload
        self.server.codes.add(
            AuthorizationCode(
                code=code,
                client_id=client.client_id,
                redirect_uri=payload.redirect_uri,
                scope=client.get_allowed_scope(payload.scope) or "",
                user=request.user,
                code_challenge=payload.data["code_challenge"],
                code_challenge_method=payload.data["code_challenge_method"],
                nonce=payload.data.get("nonce"),
                auth_time=int(time.time()),
                expires_at=time.monotonic() + CODE_SECONDS,
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """The unexpired code issued to this client."""
        found: AuthorizationCode | None = self.server.codes.find(code, client.client_id)
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """A code is used once."""
        self.server.codes.remove(authorization_code.code)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        """The user who approved the code."""
        return authorization_code.user


class RequiredS256CodeChallenge(CodeChallenge):
    """PKCE required on every authorization request, with the S256 method only."""

    DEFAULT_CODE_CHALLENGE_METHOD: ClassVar[str] = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[tuple[str, ...]] = ("S256",)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Refuse an authorization request without an S256 code challenge."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class IDTokens(OpenIDCode):
    """An ID token beside the access token when the authorization request asks for `openid`."""

    def __init__(self, issuer: str, keys: KeyFile, codes: CodeStore, token_seconds: int) -> None:
        super().__init__(require_nonce=False)
        self.issuer = issuer
        self.keys = keys
        self.codes = codes
        self.token_seconds = token_seconds

    def resolve_client_private_key(self, client: Client) -> KeySet:
        """The access tokens' signing key."""
        return self.keys.signing_keys()

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        """Issuer, the client as audience, and the access token's lifetime."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + self.token_seconds,
        }

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """A nonce already carried by a pending code is a replay."""
        has_nonce: bool = self.codes.has_nonce(request.payload.client_id, nonce)
        return has_nonce

    def generate_user_info(self, user: User, scope: str) -> dict[str, str]:
        """The development user has a subject and nothing more."""
        return {"sub": user.sub}


def create_app(issuer: str, keys_path: Path, audience: str, token_seconds: int) -> Flask:
    """The provider as a Flask app; the key file is created when absent."""
    keys = KeyFile(keys_path)
    keys.ensure()
    codes = CodeStore()
    app = Flask(__name__)
    server = Provider(app, codes)
    server.register_token_generator(
        "default", AccessTokenGenerator(issuer, keys, audience, token_seconds)
    )
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(
        AuthorizationCodeGrant,
        [RequiredS256CodeChallenge(required=True), IDTokens(issuer, keys, codes, token_seconds)],
    )
    discovery = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [*SECRET_AUTH_METHODS, "none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"],
    }

    @app.get("/.well-known/openid-configuration")
    def openid_configuration() -> Response:
        return jsonify(discovery)

    @app.get("/jwks")
    def jwks() -> Response:
        return jsonify(keys.public())

    # Authlib's Flask integration answers with Flask responses.
    @app.post("/token")
    def token() -> Response:
        return cast(Response, server.create_token_response())

    @app.get("/authorize")
    def authorize() -> Response:
        # No login and no consent page: the development user approves every valid request.
        try:
            grant = server.get_consent_grant(end_user=User(DEVELOPER))
        except OAuth2Error as error:
            return cast(Response, server.handle_error_response(None, error))
        return cast(
            Response, server.create_authorization_response(grant=grant, grant_user=User(DEVELOPER))
        )

    @app.after_request
    def allow_loopback_origins(response: Response) -> Response:
        # Swagger UI fetches discovery and exchanges its code from the service's own origin.
        origin = request.headers.get("Origin", "")
        if _is_loopback_origin(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.update(CORS_HEADERS)
        return response

    @app.errorhandler(KeyFileError)
    def key_file_error(error: KeyFileError) -> tuple[Response, int]:
        app.logger.error("%s", error)
        return jsonify(error="server_error", error_description=str(error)), 500

    return app


def _is_loopback_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and parts.hostname in LOOPBACK_HOSTS


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are not logged unless `serve --verbose`."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or ProviderError naming the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            reason = "it is in use: stop what listens there or pass another --port"
        else:
            reason = error.strerror or str(error)
        raise ProviderError(
            f"the OpenID provider cannot listen on {host} port {port}: {reason}"
        ) from None


def issuer_url(host: str, port: int) -> str:
    """`http://host:port`, the host in brackets when it is an IPv6 address."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True)
class ServerOptions:
    """Where the provider listens, its key file, and the tokens it issues."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    keys: Path = DEFAULT_KEYS
    audience: str = DEFAULT_AUDIENCE
    token_seconds: int = DEFAULT_TOKEN_SECONDS
    verbose: bool = False


def start_server(options: ServerOptions) -> tuple[str, BaseWSGIServer]:
    """The issuer URL and a listening server, not yet serving."""
    with listen(options.host, options.port) as sock:
        issuer = issuer_url(options.host, sock.getsockname()[1])
        app = create_app(issuer, options.keys, options.audience, options.token_seconds)
        handler = WSGIRequestHandler if options.verbose else QuietRequestHandler
        # Werkzeug serves a duplicate of the socket, so this one may close.
        server = make_server(
            options.host,
            options.port,
            app,
            threaded=True,
            request_handler=handler,
            fd=sock.fileno(),
        )
    sys.stderr.write(f"OpenID provider for development at {issuer} (keys: {options.keys})\n")
    return issuer, server


def serve(options: ServerOptions, ready_file: Path | None = None) -> int:
    """Serve until SIGTERM or SIGINT; write the issuer to `ready_file` once listening."""
    issuer, server = start_server(options)

    def stop(signum: int, frame: FrameType | None) -> None:
        # `shutdown` waits for `serve_forever` to return: it must not run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if ready_file is not None:
            _write_atomically(ready_file, issuer + "\n")
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
    return 0


def run(options: ServerOptions, env_prefix: str, command: list[str]) -> int:
    """Run `command` (the service) trusting a provider started here, unless one is configured.

    The command gets `<prefix>OIDC_ISSUER`, `<prefix>OIDC_AUDIENCE` and
    `<prefix>OIDC_DOCS_CLIENT_ID` for this provider. When the issuer is already set, in the
    environment or in `.env`, it runs as it is, alone.
    """
    issuer_variable = f"{env_prefix}OIDC_ISSUER"
    if _is_configured(issuer_variable, Path(".env")):
        return _run_child(command, dict(os.environ))
    issuer, server = start_server(options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    environment = {
        **os.environ,
        issuer_variable: issuer,
        f"{env_prefix}OIDC_AUDIENCE": options.audience,
        # Swagger UI's Authorize then signs in here (authorization code with PKCE).
        f"{env_prefix}OIDC_DOCS_CLIENT_ID": DOCS_CLIENT_ID,
    }
    try:
        return _run_child(command, environment)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def _is_configured(variable: str, env_file: Path) -> bool:
    """Whether `variable` has a value in the environment or in `env_file` (any case)."""
    name = variable.upper()
    if any(key.upper() == name and value for key, value in os.environ.items()):
        return True
    try:
        lines = env_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    for line in lines:
        key, _, value = line.strip().removeprefix("export ").partition("=")
        if key.strip().upper() == name and value.strip().strip("\"'"):
            return True
    return False


def _run_child(command: list[str], environment: dict[str, str]) -> int:
    """Run `command` to its end; its exit status, 128 + N when signal N ended it.

    Ctrl-C reaches the command from the terminal (one process group): ignored here, so the
    command stops gracefully before the provider does. SIGTERM is passed on.
    """
    try:
        child = subprocess.Popen(command, env=environment)  # noqa: S603 - the developer's command
    except OSError as error:
        raise ProviderError(f"cannot run {' '.join(command)}: {error}") from error
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    status = child.wait()
    return 128 - status if status < 0 else status


def fetch_token(issuer: str, scope: str, client_id: str, client_secret: str) -> str:
    """A client_credentials access token from the provider at `issuer`, found by discovery."""
    issuer = issuer.rstrip("/")
    with httpx.Client(timeout=10.0) as http:
        try:
            discovery = http.get(f"{issuer}/.well-known/openid-configuration")
            token_endpoint = _json_object(discovery).get("token_endpoint")
            if not isinstance(token_endpoint, str):
                raise ProviderError(f"{issuer} serves no OpenID discovery document")
            response = http.post(
                token_endpoint,
                data={"grant_type": "client_credentials", "scope": scope},
                auth=(client_id, client_secret),
            )
        except httpx.TransportError:
            raise ProviderError(
                f"no OpenID provider answers at {issuer}: start it with make run"
            ) from None
    body = _json_object(response)
    token = body.get("access_token")
    if response.status_code != httpx.codes.OK or not isinstance(token, str):
        reason = body.get("error_description") or body.get("error") or response.status_code
        raise ProviderError(f"the OpenID provider at {issuer} refused the token request: {reason}")
    return token


def openapi_scopes(path: Path) -> str:
    """Every scope the OpenAPI document's security requirements and OAuth2 flows name."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        requirements = list(document.get("security", []))
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict):
                    requirements += operation.get("security", [])
        scopes = {scope for req in requirements for names in req.values() for scope in names}
        for scheme in document.get("components", {}).get("securitySchemes", {}).values():
            for flow in scheme.get("flows", {}).values():
                scopes |= set(flow.get("scopes", {}))
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise ProviderError(
            f"cannot read the scopes of the OpenAPI document {path}: {error}"
        ) from error
    return " ".join(sorted(scopes))


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or an empty one when it has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _write_atomically(path: Path, text: str) -> None:
    """Write a temporary file (mode 0600) beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    Path(file.name).replace(path)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0 to {MAX_PORT})")
    return port


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line: `serve`, `run`, `token` or `rotate`."""
    parser = argparse.ArgumentParser(
        prog="oidc_provider", description="A local OpenID provider for development and tests."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--host", default=DEFAULT_HOST, help="default: %(default)s")
    server.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="0 picks a free one; default: %(default)s"
    )
    server.add_argument("--keys", type=Path, default=DEFAULT_KEYS, help="default: %(default)s")
    server.add_argument("--audience", default=DEFAULT_AUDIENCE, help="default: %(default)s")
    server.add_argument(
        "--token-seconds",
        type=_positive,
        default=DEFAULT_TOKEN_SECONDS,
        help="default: %(default)s",
    )
    server.add_argument("--verbose", action="store_true", help="log a line per request")

    serve_parser = commands.add_parser(
        "serve", parents=[server], help="serve discovery, JWKS and tokens"
    )
    serve_parser.add_argument(
        "--ready-file", type=Path, help="written with the issuer URL once listening"
    )

    run_parser = commands.add_parser(
        "run",
        parents=[server],
        help="run a command (`-- python -m service`) that trusts this provider",
        usage="%(prog)s [options] --env-prefix PREFIX -- COMMAND [ARG ...]",
    )
    run_parser.add_argument(
        "--env-prefix", required=True, help="the service's settings prefix, e.g. ORDERS_SERVICE_"
    )

    token_parser = commands.add_parser("token", help="print a client_credentials access token")
    token_parser.add_argument(
        "--issuer", default=issuer_url(DEFAULT_HOST, DEFAULT_PORT), help="default: %(default)s"
    )
    token_parser.add_argument(
        "--scope", default="", help="space-separated; default: every scope --openapi names"
    )
    token_parser.add_argument(
        "--openapi", type=Path, help="without --scope, ask for every scope this document names"
    )
    token_parser.add_argument("--client-id", default=SERVICE_CLIENT_ID, help="default: %(default)s")
    token_parser.add_argument(
        "--client-secret", default=SERVICE_CLIENT_SECRET, help="default: %(default)s"
    )

    rotate_parser = commands.add_parser("rotate", help="put a new signing key first")
    rotate_parser.add_argument(
        "--keys", type=Path, default=DEFAULT_KEYS, help="default: %(default)s"
    )
    rotate_parser.add_argument(
        "--keep",
        type=_positive,
        default=2,
        help="keys kept, the new one included; default: %(default)s",
    )

    # What follows `--` is `run`'s command, left alone by argparse.
    child = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: len(argv) - len(child) - 1] if "--" in argv else argv)
    if args.command == "run" and not child:
        run_parser.error("the command to run follows --")
    args.child = child
    return args


def main(argv: list[str] | None = None) -> int:
    """Run a command; errors end as one line on stderr and exit status 1."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command in {"serve", "run"}:
            options = ServerOptions(
                args.host, args.port, args.keys, args.audience, args.token_seconds, args.verbose
            )
            if args.command == "serve":
                return serve(options, args.ready_file)
            return run(options, args.env_prefix, args.child)
        if args.command == "token":
            scope = args.scope
            if not scope.strip() and args.openapi is not None:
                scope = openapi_scopes(args.openapi)
                if not scope:
                    sys.stderr.write(f"{args.openapi} names no scope: the token carries none\n")
            token = fetch_token(args.issuer, scope, args.client_id, args.client_secret)
            sys.stdout.write(token + "\n")
        else:
            sys.stdout.write(rotate_key_set(args.keys, args.keep) + "\n")
    except ProviderError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
