"""Options and error handling shared by every `assay` command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from assay.engine.formats import FORMATS
from assay.engine.severity import Severity
from assay.errors import AssayError, ConfigErrors
from assay.evidence.checkpoint_log import CHECKPOINT_LOG_ENV, DEFAULT_CHECKPOINT_LOG
from assay.files import UnsafePathError, check_output_path
from assay.words import counted

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_LEDGER = "sqlite:///.assay/ledger.db"
SEVERITIES = [s.value for s in Severity]


def handle_errors(func: F) -> F:
    """The one place errors become exits: an AssayError's diagnostics on stderr, and its
    class's exit code (several input errors are listed together)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigErrors as exc:
            for e in exc.errors:
                click.echo(f"error: {e.diagnostics()}", err=True)
            click.echo(f"{counted(len(exc.errors), 'error')}; nothing was run", err=True)
            sys.exit(exc.exit_code)
        except AssayError as exc:
            click.echo(f"error: {exc.diagnostics()}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def option_group(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator, so commands share them exactly."""

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def choose_format(*choices: str, help: str = "Output format.") -> Callable[[F], F]:
    """`--format/-f` for a command that prints one thing in one of `choices` (the first
    is the default); run and evaluate take `output_options` instead."""
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help,
    )


format_option = choose_format("table", "json")


STDOUT = "-"


class OutputFile(click.ParamType):  # type: ignore[type-arg]
    """A file to write: its directory must exist and it must not be a link, device or
    directory, checked when the command line is read, so a bad path fails before any
    work (exit 2). With `stdout`, ``-`` means standard output (None)."""

    name = "FILE"

    def __init__(self, *, stdout: bool = False) -> None:
        self.stdout = stdout

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | None:
        if isinstance(value, Path):
            path = value
        elif self.stdout and value == STDOUT:
            return None
        else:
            path = Path(value)
        try:
            check_output_path(path)
        except UnsafePathError as exc:
            self.fail(exc.message, param, ctx)
        return path


@dataclass(frozen=True)
class Output:
    """One report to write: a format, and a file (None: standard output)."""

    fmt: str
    path: Path | None


class OutputSpec(click.ParamType):  # type: ignore[type-arg]
    """`FORMAT` or `FORMAT=PATH`, e.g. `-f table -f sarif=out.sarif` (``=-``: standard output)."""

    name = "FORMAT[=PATH]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Output:
        if isinstance(value, Output):
            return value
        fmt, sep, path = str(value).partition("=")
        if fmt not in FORMATS:
            self.fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", param, ctx)
        if sep and not path:
            self.fail(f"{value!r}: expected a file name after '='", param, ctx)
        if not sep:
            return Output(fmt, None)
        return Output(fmt, OutputFile(stdout=True).convert(path, param, ctx))


def resolve_outputs(specs: tuple[Output, ...], output: Path | None) -> list[Output]:
    """The reports to write: `--output` names the file of the one format given without one."""
    outputs = list(specs) or [Output("table", None)]
    to_stdout = [o for o in outputs if o.path is None]
    if output is not None:
        if len(to_stdout) != 1:
            raise click.UsageError(
                "--output names the file of exactly one format given without =PATH"
            )
        outputs = [Output(o.fmt, output) if o.path is None else o for o in outputs]
    elif len(to_stdout) > 1:
        raise click.UsageError(
            "only one format can go to standard output; give the others a file: -f FORMAT=PATH"
        )
    return outputs


_output_option_list = option_group(
    click.option(
        "--format",
        "-f",
        "formats",
        type=OutputSpec(),
        multiple=True,
        help=f"Report format, repeatable, optionally with a file: -f sarif=out.sarif. "
        f"Formats: {', '.join(FORMATS)}. Default: table.",
    ),
    click.option(
        "--output",
        "-o",
        "output",
        type=OutputFile(),
        help="Write the one format given without =PATH to this file.",
    ),
)


def output_options(func: F) -> F:
    """`--format` (repeatable) and `--output`, handed to the command as the resolved
    `outputs` (`resolve_outputs`: a usage error when they do not fit together)."""

    @functools.wraps(func)
    def wrapper(*args: Any, formats: tuple[Output, ...], output: Path | None, **kwargs: Any) -> Any:
        return func(*args, outputs=resolve_outputs(formats, output), **kwargs)

    return _output_option_list(wrapper)  # type: ignore[return-value]


selection_options = option_group(
    click.option(
        "--profile",
        "-p",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Profile file (default: ./assay.yaml, else the built-in default).",
    ),
    click.option(
        "--framework",
        multiple=True,
        help="Only controls of this framework or criterion (soc2, soc2:CC6.1, cis_aws_v3, "
        "iso27001_2022:A.8.24, nist_800_53_r5:SC-28; `assay controls list` shows them).",
    ),
    click.option("--control", multiple=True, help="Only this control id (repeatable)."),
    click.option("--severity", type=click.Choice(SEVERITIES), help="Only controls at or above."),
)
ledger_option = click.option(
    "--ledger",
    envvar="ASSAY_LEDGER",
    default=DEFAULT_LEDGER,
    show_default=True,
    help="Evidence ledger URL (sqlite:///path.db or postgresql://...); env ASSAY_LEDGER.",
)
checkpoint_log_option = click.option(
    "--checkpoint-log",
    metavar="DIR|s3://BUCKET/PREFIX",
    envvar=CHECKPOINT_LOG_ENV,
    help=f"Where every signed checkpoint is also written, outside the ledger, and where "
    f"verify finds the checkpoint to pin the ledger to: a directory (default: "
    f"{DEFAULT_CHECKPOINT_LOG}/) or an S3 prefix; env {CHECKPOINT_LOG_ENV}.",
)
_run_option_list = option_group(
    ledger_option,
    click.option(
        "--soft-fail",
        is_flag=True,
        help="Report, but exit 0 whatever the results (usage errors still exit 2).",
    ),
    click.option(
        "--only-new",
        is_flag=True,
        help="Gate only on failures that are new since the baseline.",
    ),
    click.option(
        "--baseline",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A results document (-f json) to compare with, instead of the ledger's last run.",
    ),
    click.option(
        "--fail-on",
        type=click.Choice(SEVERITIES),
        default="low",
        show_default=True,
        help="Exit 1 on an unwaived failure at or above this severity.",
    ),
)


@dataclass(frozen=True)
class RunSettings:
    """Where a run records its evidence and how its results gate."""

    ledger: str
    fail_on: str
    soft_fail: bool
    only_new: bool
    baseline: Path | None


def run_options(func: F) -> F:
    """The ledger and gating options, handed to the command as one `settings` argument."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        ledger: str,
        fail_on: str,
        soft_fail: bool,
        only_new: bool,
        baseline: Path | None,
        **kwargs: Any,
    ) -> Any:
        settings = RunSettings(ledger, fail_on, soft_fail, only_new, baseline)
        return func(*args, settings=settings, **kwargs)

    return _run_option_list(wrapper)  # type: ignore[return-value]


wait_timeout_option = click.option(
    "--wait-timeout",
    type=click.FloatRange(0),
    default=3600.0,
    show_default=True,
    help="Seconds a run's completion waits for shards that have not finished.",
)

collect_options = option_group(
    click.option(
        "--workers",
        type=click.IntRange(1, 256),
        default=8,
        show_default=True,
        help="Collection threads.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(1),
        default=300.0,
        show_default=True,
        help="Seconds allowed per target and resource type.",
    ),
)


@dataclass(frozen=True)
class Sharding:
    """How a run is sharded (`shard_options`); inactive without --shard, --shards or
    --completer."""

    shard: str | None
    shards: int | None
    run_id: str | None
    completer: bool
    wait: float

    @property
    def active(self) -> bool:
        return self.shard is not None or self.shards is not None or self.completer

    def completes(self, env: Mapping[str, str]) -> bool:
        """This process completes the run: --completer, and its index is --shards."""
        from assay.engine.shard import completer_index

        return self.completer and completer_index(self.shards, env)


_shard_option_list = option_group(
    click.option(
        "--shard",
        metavar="I/N",
        help="Run shard I of N (numbered from 0): a fixed, balanced share of the targets, "
        "appended to the shared ledger under --run-id; `assay runs complete` then "
        "completes the run. Reports come from the completion.",
    ),
    click.option(
        "--shards",
        type=click.IntRange(1, 10_000),
        envvar="ASSAY_SHARDS",
        help="Shard count, this process's index taken from $ASSAY_SHARD or "
        "$JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); env ASSAY_SHARDS.",
    ),
    click.option(
        "--run-id",
        envvar="ASSAY_RUN_ID",
        help="The run id every shard shares; default: derived from $ASSAY_JOB_UID (the "
        "Job's uid); env ASSAY_RUN_ID.",
    ),
    click.option(
        "--completer",
        is_flag=True,
        help="With --shards N: the process whose index is N (one past the last shard) "
        "completes the run instead of collecting: it waits for every shard, then writes "
        "the closing record, its signed checkpoint and the reports.",
    ),
    wait_timeout_option,
)


def shard_options(func: F) -> F:
    """The sharding options, handed to the command as one `sharding` argument."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        shard: str | None,
        shards: int | None,
        run_id: str | None,
        completer: bool,
        wait_timeout: float,
        **kwargs: Any,
    ) -> Any:
        sharding = Sharding(shard, shards, run_id, completer, wait_timeout)
        source = click.get_current_context().get_parameter_source("run_id")
        if source is click.core.ParameterSource.COMMANDLINE and not sharding.active:
            # From the environment it may be meant for the shards of another step.
            raise click.UsageError("--run-id names the run of a sharded run: add --shard I/N")
        return func(*args, sharding=sharding, **kwargs)

    return _shard_option_list(wrapper)  # type: ignore[return-value]
