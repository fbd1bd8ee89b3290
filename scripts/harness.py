"""The harness every script in ``scripts/`` shares, so that none repeats a setup: a real
``auctionactors serve`` process (started on port 0 on a fresh or existing database, its URL read
from its output, what the operating system says about it read from ``/proc/PID``, SIGTERMed or
SIGKILLed), users and tokens on a database, connected clients (`Client`, or plain connections
that only say hello and match replies: `hello`, `Wire`), child processes driven over a pipe
(`Child`), the event loop to run on, the command line run in this process, and the arithmetic
and layout of the figures the scripts print (`Table`; `Figures`: min/median/max of the runs
beside each target).

The scripts run with ``scripts/`` on ``sys.path`` (Python puts a script's folder there); a test
that loads one puts it there too."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import io
import json
import multiprocessing
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from auctionactors.cli import main as cli_main
from auctionactors.cli.stores import open_store
from auctionactors.client import Client
from auctionactors.domain.parties import Role
from auctionactors.store.base import NewUser

REPO = Path(__file__).resolve().parents[1]
# The interpreter that runs the server and the command line: another checkout's (`use_checkout`)
# to measure its code with the same script.
PYTHON = sys.executable
LISTENING = "auctionactors: listening on "
EVENT_LOOP = "auctionactors: event loop "
# Lines of the server's log that mean something went wrong inside it.
TROUBLE = ("Traceback", "connection handler failed", "Error in", "failed:", "internal error")


def use_checkout(repo: Path) -> None:
    """Run servers and command lines with the code of ``repo`` (its ``.venv`` if it has one)."""
    global REPO, PYTHON
    REPO = repo.resolve()
    venv = REPO / ".venv" / "bin" / "python"
    PYTHON = str(venv) if venv.exists() else sys.executable


def checkout_env() -> dict[str, str]:
    """The environment of a process running the code of `REPO`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    env.pop("AUCTIONACTORS_DB", None)
    return env


def run_module(*argv: str, timeout_s: float = 600.0) -> tuple[float, str]:
    """``python -m auctionactors ARGV`` as a process of the checkout under test: its wall time
    in seconds and its stdout (RuntimeError if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "auctionactors", *argv], cwd=REPO, env=checkout_env(),
        capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"auctionactors {' '.join(argv)}: {done.stderr[-2000:]}")
    return took, done.stdout


def now_us() -> int:
    """The wall clock in microseconds: what the server stamps its events with."""
    return time.time_ns() // 1000


# --- the server process -----------------------------------------------------------------------


@dataclass
class Lifetime:
    """One server process, in microseconds of the shared wall clock: started (spawned), ready
    (its URL line read: every stored deadline has been acted on by then), killed (None: alive)."""

    started: int
    ready: int | None = None
    killed: int | None = None


class Server:
    """``python -m auctionactors serve --db DB --port 0 OPTIONS``. Its output (stdout and
    stderr) is read line by line in a thread and copied to ``log``, so that the caller can wait
    for a line with a timeout and know when it came. ``wait=False`` returns at once (to kill it
    while it starts up); `wait_ready` then waits for the URL. ``python`` goes before ``-m``
    (e.g. cProfile)."""

    def __init__(
        self,
        db: Path,
        log: Path,
        *options: str,
        python: Sequence[str] = (),
        wait: bool = True,
        timeout_s: float = 60.0,
    ) -> None:
        self.db = db
        self.log = log
        env = checkout_env()
        self._out = log.open("w", encoding="utf-8")
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.lifetime = Lifetime(now_us())
        self.proc = subprocess.Popen(
            [PYTHON, *python, "-m", "auctionactors", "serve", "--db", str(db),
             "--port", "0", *options],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
        )  # fmt: skip
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        self._pump = threading.Thread(target=self._copy, args=(self.proc.stdout,), daemon=True)
        self._pump.start()
        self.url = ""
        self.port = 0
        if wait:
            self.wait_ready(timeout_s)

    def _copy(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._out.write(line)
                self._out.flush()
                self._lines.put(line.rstrip("\n"))
        except ValueError:  # closed under us
            pass
        finally:
            self._lines.put(None)

    def expect(self, prefix: str, timeout_s: float = 60.0) -> str:
        """The rest of the next output line starting with ``prefix``; if the server ends or
        none comes in time, it is killed and RuntimeError says what its log holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.kill()
                tail = self.log.read_text(encoding="utf-8", errors="replace")[-4000:]
                raise RuntimeError(f"the server did not start ({self.log}):\n{tail}")
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()

    def wait_ready(self, timeout_s: float = 60.0) -> str:
        """Until it listens; its URL."""
        self.url = self.expect(LISTENING, timeout_s)
        self.lifetime.ready = now_us()
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
        return self.url

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, hold_s: float = 0.0) -> None:
        """SIGKILL: a crash. With ``hold_s``, SIGSTOP first and SIGKILL that much later: what
        clients send meanwhile is in flight when it dies (it counts as dead from the stop)."""
        if self.lifetime.killed is None:
            self.lifetime.killed = now_us()
        if self.proc.poll() is None and hold_s > 0:
            self.proc.send_signal(signal.SIGSTOP)
            time.sleep(hold_s)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close()

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (a clean drain), SIGKILL if that takes too long; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self.lifetime.killed is None:
            self.lifetime.killed = now_us()
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        self._pump.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._out.close()

    def trouble(self, words: Sequence[str] = TROUBLE) -> list[str]:
        """Lines of the server's log that mean something went wrong inside it."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line for line in lines if any(w in line for w in words)]

    # --- what the operating system and the server's HTTP side say about it ----------------

    def _proc_status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field}")

    def rss_mb(self) -> float:
        """Resident memory (VmRSS), MiB."""
        return self._proc_status("VmRSS") / 1024

    def threads(self) -> int:
        return self._proc_status("Threads")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (every thread); NaN once it is gone."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, window_s: float = 0.5, busy: float = 0.04, timeout_s: float = 60.0) -> float:
        """Wait until the process uses less than ``busy`` of one CPU over ``window_s`` (what it
        started in the background is done), ``timeout_s`` at most; the seconds waited."""
        start = time.perf_counter()
        before = self.cpu_seconds()
        while time.perf_counter() - start < timeout_s:
            time.sleep(window_s)
            after = self.cpu_seconds()
            if after - before < busy * window_s:
                break
            before = after
        return time.perf_counter() - start

    def http(self, path: str) -> tuple[int, bytes]:
        scheme = "https" if self.url.startswith("wss") else "http"
        url = f"{scheme}://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()

    def healthz(self) -> tuple[int, dict[str, Any]]:
        status, body = self.http("/healthz")
        return status, json.loads(body)

    def metric(self, name: str) -> float | None:
        """One sample of ``/metrics`` by its name (labels included), None if absent."""
        for line in self.http("/metrics")[1].decode().splitlines():
            key, _, value = line.rpartition(" ")
            if key == name:
                return float(value)
        return None

    def quantile(self, histogram: str, q: float) -> float | None:
        """The ``q`` quantile of a histogram of ``/metrics`` (no labels), as Prometheus's
        ``histogram_quantile`` estimates it from the buckets; None if it has no observation."""
        buckets: list[tuple[float, float]] = []
        prefix = f'{histogram}_bucket{{le="'
        for line in self.http("/metrics")[1].decode().splitlines():
            if line.startswith(prefix):
                bound, _, count = line[len(prefix) :].partition('"} ')
                buckets.append((float(bound), float(count)))
        total = buckets[-1][1] if buckets else 0.0
        if total == 0:
            return None
        rank, lower, below = q * total, 0.0, 0.0
        for bound, count in buckets:
            if count >= rank:
                if bound == float("inf"):
                    return lower
                return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
            lower, below = bound, count
        return lower


# --- users, clients, the command line ---------------------------------------------------------

People = Mapping[str, tuple[str, Role, str]]  # key -> (company, role, user name)


async def add_users(db: Path | str, people: People) -> dict[str, NewUser]:
    """A user (and its company if new) for each of ``people``, as ``auctionactors user add``
    does it: company_id, user_id, token by key. ``db``: a SQLite file or a PostgreSQL URL."""
    async with open_store(str(db), create=True) as store:
        return {key: await store.add_user(c, role, name) for key, (c, role, name) in people.items()}


def make_users(db: Path | str, people: People) -> dict[str, NewUser]:
    return asyncio.run(add_users(db, people))


# --- PostgreSQL (cluster mode) ------------------------------------------------------------------

PG_ADMIN = os.environ.get("AUCTIONACTORS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def pg_database(prefix: str, keep: bool = False) -> Iterator[str]:
    """A fresh database on the PostgreSQL server of ``$AUCTIONACTORS_TEST_PG`` (default the
    local one), dropped afterwards unless ``keep``: its URL."""
    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    asyncio.run(_pg_admin(PG_ADMIN, f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            asyncio.run(_pg_admin(PG_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def add_pg_users(url: str, people: People) -> dict[str, NewUser]:
    """`add_users` on a PostgreSQL database."""
    from auctionactors.store.postgres import PostgresEventStore

    async with await PostgresEventStore.open(url) as store:
        return {key: await store.add_user(c, role, name) for key, (c, role, name) in people.items()}


async def cluster_settled(url: str, nodes: int, timeout_s: float = 60.0) -> None:
    """Wait until ``nodes`` nodes are registered and every partition has a live owner."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(asyncpg.UndefinedTableError):  # not migrated yet
                owned = await conn.fetchval(
                    "SELECT count(*) FROM cluster_partitions p JOIN cluster_nodes n"
                    " ON p.owner = n.node_id"
                )
                alive = await conn.fetchval("SELECT count(*) FROM cluster_nodes")
                if owned == 64 and alive == nodes:
                    return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise RuntimeError(f"the cluster did not settle on {nodes} nodes")


def node(url: str, folder: Path, node_id: str, *options: str, wait: bool = True) -> Server:
    """One cluster node: ``serve --db URL --node-id NODE_ID`` (its log in ``folder``, one file
    per start)."""
    log = folder / f"{node_id}.{len(list(folder.glob(node_id + '.*')))}.log"
    return Server(url, log, "--node-id", node_id, *SERVE_OPTIONS, *options, wait=wait)  # type: ignore[arg-type]


# The platform's admin and a buyer: who every proof script's run starts with.
PLATFORM: dict[str, tuple[str, Role, str]] = {
    "admin": ("Platform", "admin", "Ada"),
    "buyer": ("Aegean Shipping", "buyer", "Bea"),
}


def serve_fresh(folder: Path, people: People, *options: str) -> tuple[Server, dict[str, NewUser]]:
    """A fresh database in ``folder`` with ``people`` on it, and a server on that database."""
    db = folder / "serve.db"
    users = make_users(db, people)
    return Server(db, folder / "server.log", *options), users


async def connected(url: str, token: str, **options: Any) -> Client:
    """A `Client` signed in with ``token``."""
    client = Client(url, token, **options)
    await client.connect()
    return client


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``auctionactors ARGV`` in this process (it is what the console script runs): the exit
    status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli_main(list(argv))
    return code, out.getvalue(), err.getvalue()


def cli_json(*argv: str) -> Any:
    """``auctionactors ARGV --json``, its output parsed (exit status 0 or 1: a check may fail)."""
    code, out, err = run_cli(*argv, "--json")
    if code not in (0, 1):
        raise RuntimeError(f"auctionactors {' '.join(argv)}: {err}")
    return json.loads(out)


# The PostgreSQL server's maintenance database: where `postgres_database` creates its databases.
PG_ADMIN_URL = os.environ.get(
    "AUCTIONACTORS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _pg_admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def postgres_database(prefix: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A fresh PostgreSQL database (``scripts/setup-postgres.sh`` starts a server) for a run: its
    URL; dropped afterwards, with whatever is still connected to it."""
    name = f"{prefix}_{os.getpid()}_{time.monotonic_ns()}"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # callable inside an event loop
        pool.submit(asyncio.run, _pg_admin(admin_url, f'CREATE DATABASE "{name}"')).result()
        try:
            parts = urllib.parse.urlsplit(admin_url)
            yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            pool.submit(asyncio.run, _pg_admin(admin_url, drop)).result()


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary folder for a run's databases and logs, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


# --- bare wire clients, other processes, event loops -------------------------------------------

# No limit of the gateway's may throttle a benchmark's own clients.
SERVE_OPTIONS = ("--rate", "1000000", "--max-connections-per-token", "100000")


async def hello(url: str, token: str, protocol: int = 2, **options: Any) -> ClientConnection:
    """A plain ``websockets`` connection that has said hello in ``protocol`` (RuntimeError if
    the server does not speak it): what a benchmark's clients use when only the server is to be
    measured (nothing parsed or applied but what they look at)."""
    options = {"compression": None, "max_size": None, **options}
    ws = await connect(url, **options)
    first: dict[str, Any] = {"type": "hello", "token": token}
    if protocol != 1:
        first["protocol"] = protocol
    await ws.send(msgspec.json.encode(first).decode())
    welcome = msgspec.json.decode(await ws.recv())
    if welcome.get("type") != "welcome" or welcome.get("protocol", 1) != protocol:
        raise RuntimeError(f"asked for protocol {protocol}, got {welcome}")
    return ws


class Wire:
    """Requests with ids over a plain connection, each reply matched to its request; every
    other frame goes to ``pushed(raw, frame)``."""

    def __init__(self, ws: ClientConnection, pushed: Any = None) -> None:
        self.ws = ws
        self.pushed = pushed
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str, protocol: int = 2, pushed: Any = None) -> Wire:
        return cls(await hello(url, token, protocol), pushed)

    async def _read(self) -> None:
        async for data in self.ws:
            frame = msgspec.json.decode(data)
            waiting = self.waiting.pop(frame.get("id"), None) if "id" in frame else None
            if waiting is not None:
                waiting.set_result(frame)
            elif self.pushed is not None:
                self.pushed(data, frame)

    async def request(self, type_: str, *, expect: str | None = "ok", **fields: Any) -> Any:
        """The reply (RuntimeError unless its type is ``expect``)."""
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send(
            msgspec.json.encode({"type": type_, "id": self.next_id, **fields}).decode()
        )
        reply = await future
        if expect is not None and reply.get("type") != expect:
            raise RuntimeError(f"{type_}: {reply}")
        return reply

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


class Child:
    """A child process (spawned) with a command pipe: ``await child.call(name, *args)`` runs
    ``name`` in it and returns what it answers ``("ok", result)``; ``await child.recv()`` reads
    what it sends unasked."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(theirs, *args), daemon=True)
        self.proc.start()
        theirs.close()

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        loop.add_reader(self.conn.fileno(), lambda: future.done() or future.set_result(None))
        try:
            await future
        finally:
            loop.remove_reader(self.conn.fileno())
        os.set_blocking(self.conn.fileno(), True)  # (uvloop's add_reader made it non-blocking)
        return self.conn.recv()

    async def call(self, *command: Any) -> Any:
        self.conn.send(command)
        status, result = await self.recv()
        if status != "ok":
            raise RuntimeError(f"{command[0]} failed in a child: {result}")
        return result

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("exit",))
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def has_uvloop() -> bool:
    try:
        importlib.import_module("uvloop")
    except ImportError:
        return False
    return True


def run_on(loop: str, main: Coroutine[Any, Any, Any]) -> Any:
    """``main`` run to its end on ``loop`` ("asyncio" or "uvloop")."""
    if loop == "uvloop":
        return importlib.import_module("uvloop").run(main)
    return asyncio.run(main)


def fast_run(main: Coroutine[Any, Any, Any]) -> Any:
    """Clients' processes run on uvloop when it is installed (the same for every server)."""
    return run_on("uvloop" if has_uvloop() else "asyncio", main)


# --- figures ----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method); NaN without samples."""
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def spread(samples: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max) of ``samples``: how the scripts print repeated runs."""
    return min(samples), statistics.median(samples), max(samples)


def ratio(top: float, bottom: float) -> float:
    """``top / bottom``, NaN when the bottom is zero."""
    return top / bottom if bottom else float("nan")


def curve(samples: list[float], width: int = 12) -> str:
    """Samples thinned to ``width`` evenly spaced values, for a one-line curve."""
    if len(samples) <= width:
        picked = samples
    else:
        picked = [samples[round(i * (len(samples) - 1) / (width - 1))] for i in range(width)]
    return " ".join(f"{v:.1f}" for v in picked)


@dataclass(frozen=True)
class Column:
    """One column of a `Table`: its title, width and format spec; ``unit`` follows each value
    inside the width, ``lead`` precedes the cell (title and values alike)."""

    title: str
    width: int
    spec: str = ""
    left: bool = False
    unit: str = ""
    lead: str = ""

    def cell(self, value: Any, title: bool = False) -> str:
        if title:
            text = self.title
        elif value is None:
            text = ""
        else:
            text = value if isinstance(value, str) else format(value, self.spec)
            text = self._align(text, self.width - len(self.unit)) + self.unit
        return self.lead + self._align(text, self.width)

    def _align(self, text: str, width: int) -> str:
        return text.ljust(width) if self.left else text.rjust(width)


class Table:
    """Rows of figures under a header line, columns separated by ``sep``. A value given as a
    string is printed as it is (aligned); None leaves the cell blank."""

    def __init__(self, *columns: Column, sep: str = " ", indent: str = "") -> None:
        self.columns = columns
        self.sep = sep
        self.indent = indent

    def head(self) -> str:
        return self.indent + self.sep.join(c.cell(None, title=True) for c in self.columns)

    def row(self, *values: Any) -> str:
        cells = (c.cell(v) for c, v in zip(self.columns, values, strict=True))
        return self.indent + self.sep.join(cells)


def number(value: float) -> str:
    """Three or more significant digits, whatever the size."""
    if value != value:  # NaN
        return "-"
    spec = ",.0f" if abs(value) >= 100 else ".2f" if abs(value) >= 1 else ".3f"
    return format(value, spec)


TARGET = re.compile(r"\s*(<=|>=|==)\s*(-?[\d,]*\.?\d+)")


def meets(value: float, target: str) -> bool | None:
    """Whether ``value`` meets ``target`` (its first ``<= N``, ``>= N`` or ``== N``, in the
    figure's unit); None when the target states no such bound."""
    match = TARGET.match(target)
    if match is None or value != value:
        return None if match is None else False
    bound = float(match[2].replace(",", ""))
    return {"<=": value <= bound, ">=": value >= bound, "==": value == bound}[match[1]]


class Figures:
    """Samples by figure (one per run), printed as a table of min/median/max beside the target
    and whether the median meets it; sections group the figures of a part; ratios of medians."""

    TABLE = Table(
        Column("figure", 62, left=True, lead="  "), Column("min", 10), Column("median", 10),
        Column("max", 10), Column("unit", 7, left=True, lead=" "),
        Column("target", 16, left=True, lead=" "), Column("", 0, left=True, lead=" "), sep="",
    )  # fmt: skip

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, list[float], str, str]] = {}
        self.order: list[str] = []  # keys, and sections as "# title"
        self.ratios: list[tuple[str, float, str]] = []

    def section(self, title: str) -> None:
        self.order.append(f"# {title}")

    def add(self, key: str, name: str, value: float, unit: str, target: str = "") -> None:
        if key not in self.rows:
            self.order.append(key)
        self.rows.setdefault(key, (name, [], unit, target))[1].append(value)
        print(f"    {name.strip()}: {number(value)} {unit}", flush=True)

    def median(self, key: str) -> float:
        return spread(self.rows[key][1])[1] if key in self.rows else float("nan")

    def ratio(self, label: str, top: str, bottom: str, target: str = "") -> None:
        if top in self.rows and bottom in self.rows:
            self.ratios.append((label, ratio(self.median(top), self.median(bottom)), target))

    def verdicts(self) -> list[bool]:
        """Whether each figure with a target meets it (on its median)."""
        found = [meets(self.median(k), self.rows[k][3]) for k in self.rows]
        found += [meets(value, target) for _, value, target in self.ratios]
        return [v for v in found if v is not None]

    def print(self) -> None:
        print()
        print(self.TABLE.head())
        for key in self.order:
            if key.startswith("# "):
                print(key[2:])
                continue
            name, samples, unit, target = self.rows[key]
            verdict = {None: "", True: "ok", False: "MISSED"}[meets(self.median(key), target)]
            print(self.TABLE.row(name, *map(number, spread(samples)), unit, target, verdict))
        if self.ratios:
            print()
            print("ratios of medians")
        for label, value, target in self.ratios:
            verdict = {None: "", True: "ok", False: "MISSED"}[meets(value, target)]
            print(f"  {label:<64}{value:>10.3f}  {target}  {verdict}")


def report(checks: Mapping[str, bool], problems: Sequence[str], summary: Any = None) -> int:
    """The end of a proof script: its problems, each check ``ok`` or ``FAIL``, the JSON summary
    (if asked for) as the last line; the exit status (0: every check holds)."""
    for line in problems:
        print(f"PROBLEM: {line}")
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'}  {name}")
    if summary is not None:
        print(json.dumps(summary, separators=(",", ":")))
    return 0 if all(checks.values()) else 1
