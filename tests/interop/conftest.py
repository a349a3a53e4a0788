"""The interop harness: a real `latchkey serve` per test, driven by OAuth 1.0a client
libraries written independently of Latchkey.

Each test gets its own server process on free ports, with its own SQLite file or its
own Postgres database, configured only through LATCHKEY_* environment variables, as an
operator would. The harness registers consumers over the gRPC ConsumerAdmin service and
plays the web frontend by calling Authorize over gRPC, with Python stubs that
`make interop` generates from proto/ (never committed).

Paths come from the environment `make interop` sets: LATCHKEY_TEST_BINARY (the built
`latchkey`) and LATCHKEY_TEST_STUBS (the generated stubs). The server ignores every
LATCHKEY_TEST_* variable as a setting. Postgres comes from LATCHKEY_TEST_POSTGRES_URL
(default postgres://postgres@127.0.0.1:5432/test); unreachable, its tests are skipped,
unless CI=true, when they fail.
"""

import base64
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

import grpc
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("LATCHKEY_TEST_BINARY", ROOT / "target/debug/latchkey")).resolve()
STUBS = pathlib.Path(os.environ.get("LATCHKEY_TEST_STUBS", ROOT / ".build/interop/stubs")).resolve()
sys.path.insert(0, str(STUBS))

from latchkey.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402
from latchkey.v1 import authority_pb2, authority_pb2_grpc  # noqa: E402

ADMIN = "interop-admin-credential"
FRONTEND = "interop-frontend-credential"
POSTGRES_URL = os.environ.get(
    "LATCHKEY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)

REQUEST_TOKEN_PATH = "/plugins/servlet/oauth/request-token"
AUTHORIZE_PATH = "/plugins/servlet/oauth/authorize"
ACCESS_TOKEN_PATH = "/plugins/servlet/oauth/access-token"


def on_ci():
    return os.environ.get("CI") in ("true", "1")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts_connections(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def credential_hash(credential):
    """An argon2 hash, made the way an operator makes one: `latchkey credential hash`."""
    done = subprocess.run(
        [str(BINARY), "credential", "hash"],
        input=credential,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split("hash:", 1)[1].strip()


@pytest.fixture(scope="session")
def credential_hashes():
    if not BINARY.exists():
        pytest.fail(f"no latchkey binary at {BINARY}: run `make interop`")
    return {"admin": credential_hash(ADMIN), "frontend": credential_hash(FRONTEND)}


@dataclass
class Latchkey:
    """A running server and its gRPC stubs."""

    process: subprocess.Popen
    log_path: pathlib.Path
    http_port: int
    public_base_url: str
    admin: admin_pb2_grpc.ConsumerAdminStub
    authority: authority_pb2_grpc.TokenAuthorityStub
    channel: grpc.Channel

    def url(self, path):
        """The URL a consumer addresses: the configured public base URL."""
        return self.public_base_url + path

    def pod_url(self, path):
        """Where the server really listens (differs when the public URL is https)."""
        return f"http://127.0.0.1:{self.http_port}{path}"

    def register(self, key, **fields):
        """Registers a consumer with the admin credential; returns the response."""
        request = admin_pb2.RegisterConsumerRequest(key=key, name=f"{key} app", **fields)
        return self.admin.RegisterConsumer(request, metadata=bearer(ADMIN))

    def decide(self, token, user_id, approve=True):
        """The web frontend's call once the user has chosen."""
        decision = authority_pb2.DECISION_APPROVE if approve else authority_pb2.DECISION_DENY
        request = authority_pb2.AuthorizeRequest(token=token, user_id=user_id, decision=decision)
        return self.authority.Authorize(request, metadata=bearer(FRONTEND))

    def validate(self, method, url, authorization, form_body=""):
        """ValidateAccess with a resource request as an edge received it."""
        signed = authority_pb2.SignedRequest(
            method=method, url=url, authorization=authorization, form_body=form_body
        )
        response = self.authority.ValidateAccess(
            authority_pb2.ValidateAccessRequest(signed=signed)
        )
        return response.principal

    def log(self):
        return self.log_path.read_text(errors="replace")


def bearer(credential):
    return (("authorization", f"Bearer {credential}"),)


class PostgresDatabases:
    """Creates a fresh database per server and drops it afterwards, as the Rust
    harness does."""

    def __init__(self):
        import psycopg

        self.psycopg = psycopg
        self.created = []

    def connect(self):
        return self.psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)

    def create(self):
        name = f"lk_interop_{uuid.uuid4().hex}"
        with self.connect() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base, _, rest = POSTGRES_URL.rpartition("/")
        query = rest.partition("?")[2]
        return f"{base}/{name}" + (f"?{query}" if query else "")

    def drop_all(self):
        with self.connect() as admin:
            for name in self.created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    if request.param == "sqlite":
        yield None
        return
    databases = PostgresDatabases()
    try:
        databases.connect().close()
    except Exception as error:  # psycopg raises several kinds for an unreachable server
        if on_ci():
            pytest.fail(f"CI=true and Postgres at {POSTGRES_URL} is unreachable: {error}")
        pytest.skip(f"Postgres at {POSTGRES_URL} is unreachable ({error}); CI=true makes this a failure")
    yield databases
    databases.drop_all()


@pytest.fixture
def start_latchkey(backend, credential_hashes, tmp_path):
    """Starts servers with extra settings (`{"OAUTH1__REQUEST_TOKEN_TTL_SECONDS": "2"}`)
    and a public scheme; stops them all when the test ends."""
    servers = []

    def start(settings=None, public_scheme="http"):
        for attempt in range(3):
            server = launch(
                backend, credential_hashes, tmp_path / f"server-{len(servers)}-{attempt}",
                settings or {}, public_scheme,
            )
            if server is not None:
                servers.append(server)
                return server
        pytest.fail("latchkey did not start three times running; see the logs above")

    yield start
    for server in servers:
        stop(server)


@pytest.fixture
def latchkey(start_latchkey):
    """A server with the default settings, its public base URL its own address."""
    return start_latchkey()


def launch(backend, hashes, folder, settings, public_scheme):
    folder.mkdir(parents=True)
    grpc_port, http_port = free_port(), free_port()
    database = backend.create() if backend else f"sqlite://{folder}/latchkey.db?mode=rwc"
    public_base_url = f"{public_scheme}://127.0.0.1:{http_port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("LATCHKEY_")}
    env.update(
        {
            "LATCHKEY_GRPC__LISTEN": f"127.0.0.1:{grpc_port}",
            "LATCHKEY_HTTP__LISTEN": f"127.0.0.1:{http_port}",
            # Port 0: a fixed metrics port would collide with anything else on it.
            "LATCHKEY_METRICS__LISTEN": "127.0.0.1:0",
            "LATCHKEY_PUBLIC_BASE_URL": public_base_url,
            "LATCHKEY_DATABASE__URL": database,
            "LATCHKEY_DATABASE__MIGRATE_ON_START": "true",
            "LATCHKEY_ENCRYPTION__KEY": base64.b64encode(os.urandom(32)).decode(),
            "LATCHKEY_CREDENTIALS__ADMIN_HASH": hashes["admin"],
            "LATCHKEY_CREDENTIALS__FRONTEND_HASH": hashes["frontend"],
            "LATCHKEY_LOG__FORMAT": "json",
            "RUST_LOG": "info",
        }
    )
    env.update({f"LATCHKEY_{name}": value for name, value in settings.items()})
    log_path = folder / "latchkey.log"
    with open(log_path, "wb") as log:
        # The working folder is the test's own, so no latchkey.toml is picked up.
        process = subprocess.Popen(
            [str(BINARY), "serve"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log_path.read_text(errors="replace")
            print(f"latchkey exited with {process.returncode}:\n{text}")
            if "cannot listen" in text:
                return None  # a port was taken in between; try others
            pytest.fail(f"latchkey exited with {process.returncode}")
        if accepts_connections(grpc_port) and accepts_connections(http_port):
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            return Latchkey(
                process=process,
                log_path=log_path,
                http_port=http_port,
                public_base_url=public_base_url,
                admin=admin_pb2_grpc.ConsumerAdminStub(channel),
                authority=authority_pb2_grpc.TokenAuthorityStub(channel),
                channel=channel,
            )
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"latchkey did not listen within 30 s:\n{log_path.read_text(errors='replace')}")


def stop(server):
    server.channel.close()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        pytest.fail("latchkey did not stop within 10 s of SIGTERM")


@dataclass
class RsaKey:
    private_pem: str
    public_pem: str


def new_rsa_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return RsaKey(private_pem, public_pem)


@pytest.fixture(scope="session")
def rsa_key():
    """The consumer's key pair, made with `cryptography`; the server sees the public half."""
    return new_rsa_key()


@pytest.fixture(scope="session")
def other_rsa_key():
    """A key pair the server has never seen."""
    return new_rsa_key()
