"""The ``scalingbook`` command: list chapters, run one with parameters, build the book, teach with it.

Bad input (an unknown chapter or parameter, a wrong type, a value out of range) is reported in one
line with exit code 2 before anything is executed or overwritten. Ctrl-C ends any command with one
line and exit code 130; a reader that leaves early (``scalingbook list | head``) ends it quietly.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import signal
import sys
from pathlib import Path

from scalingbook.chapters import page
from scalingbook.chapters.params import ParameterError, check_text_file
from scalingbook.lab import project
from scalingbook.lab.profiles import PROFILES
from scalingbook.lab.store import COMMAND_ENV_VAR, REPO_ROOT, ResultError, repo_relative
from scalingbook.site import book, sandbox, teaching

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_STOPPED = 3  # a sweep stopped at its --time-limit with work left: run it again to continue
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def _list(_: argparse.Namespace) -> int:
    for chapter in book.CHAPTERS:
        print(f"{chapter.name}: {chapter.title}")
        for param in chapter.params().values():
            allowed = f" [{param.allowed}]" if param.allowed else ""
            print(f"  {param.name} = {param.default!r}  ({param.type_name}{allowed})  {param.help}")
    return 0


def _overrides(pairs: list[list[str]]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for name, value in pairs:
        if name in overrides:
            raise ParameterError(f"parameter {name!r} given twice")
        overrides[name] = value
    return overrides


def _run(args: argparse.Namespace) -> int:
    chapter = book.get_chapter(args.chapter)
    overrides = _overrides(args.param)
    profile = args.profile
    if profile is None and "profile" not in overrides:
        profile = book.default_profile(chapter)  # as the build chooses; not a choice of the user's
    values = book.resolve_values(chapter, overrides, profile=profile, device=args.device)
    chosen = [*overrides, *(["profile"] if args.profile else []), *(["device"] if args.device else [])]
    if book.run(chapter, values, force=args.force, overrides=dict.fromkeys(chosen)):
        print(f"{chapter.name}: executed -> {chapter.executed}")
    else:
        print(f"{chapter.name}: up to date with these parameters (use --force to run again)")
    return 0


def _build(args: argparse.Namespace) -> int:
    html = book.build(execute_chapters=not args.no_execute, force=args.force, defaults=args.defaults)
    print(f"book built: {html / 'index.html'}")
    return 0


def _init(args: argparse.Namespace) -> int:
    written, kept = project.init(args.folder)
    print(
        f"{written} files written to {args.folder}"
        + (f", {kept} already there kept" if kept else "")
        + f"; work in it (`cd {shlex.quote(str(args.folder))}`) or set {project.ENV_VAR}={args.folder}"
    )
    return 0


def _assignment(args: argparse.Namespace) -> int:
    chapter = book.get_chapter(args.chapter)
    values = book.resolve_values(chapter, _overrides(args.param))
    path = teaching.write_assignment(chapter, values, args.out, solutions=args.solutions, student=args.student)
    print(f"{chapter.name}: {'answer key' if args.solutions else 'student notebook'} -> {path}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    if args.student and len(args.notebook) > 1:
        raise teaching.TeachingError("--student names one notebook's student; give one notebook with it")
    limits = teaching.Limits(timeout=args.timeout, cell_timeout=args.cell_timeout, memory=int(args.memory * 2**30))
    failed = 0
    for path in args.notebook:
        try:
            report = teaching.grade(path, limits=limits, report_dir=args.report, student=args.student)
        except teaching.TeachingError as err:  # one bad submission does not stop the class
            print(f"scalingbook: error: {err}", file=sys.stderr)
            failed += 1
            continue
        print(report.summary())
    return EXIT_USAGE if failed else 0


def _duration(text: str) -> float:
    """Seconds from ``90s``, ``150m``, ``2.5h`` or a bare number of seconds (argparse type)."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 150m or 2h, got {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return seconds


CONFIRM_PROFILES = ("paper",)  # sized for a GPU or a cluster: on a CPU, asked about before training


def _cpu_hours_left(loaded: list, profile: str, device: str, workers: int) -> tuple[float, float]:
    """Training FLOPs of the sweeps' pending member groups, and the hours they would take here.

    The rate is measured: a few steps of the largest pending group, timed on one thread as a worker
    trains it (:func:`scalingbook.chapters.performance.time_steps`); ``workers`` such threads share the work.
    """
    from scalingbook.chapters.performance import time_steps
    from scalingbook.lab import sweeps
    from scalingbook.lab.cpu import torch_threads
    from scalingbook.lab.store import ResultStore
    from scalingbook.lab.train import member_chunk

    store = ResultStore.for_profile(profile)
    jobs = [
        (spec, i, sweeps.chunk_cost(spec, device, i))
        for sweep in loaded
        for spec in sweep.runs
        if not store.exists(f"{spec.sweep}/records", spec.params())
        for i in range(sweeps.chunk_count(spec, device))
        if not sweeps.chunk_done(spec, profile, i)
    ]
    if not jobs:
        return 0.0, 0.0
    spec, _, _ = max(jobs, key=lambda job: job[2])
    cfg = sweeps._train_config(spec, device)
    task = spec.build_task()
    with torch_threads(1):
        rate = time_steps(
            spec.model_config(task), member_chunk(cfg, len(spec.members)), cfg, task.seq_len("train"), steps=2, warmup=1
        )["model_flops_per_s"]
    flops = sum(cost for *_, cost in jobs)
    return flops, flops / (rate * workers) / 3600


def _confirm(question: str, yes: bool) -> None:
    """Ask ``question`` on the terminal; without one (a script, CI), refuse unless ``--yes`` was given."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ParameterError(f"{question} Not asked: stdin is not a terminal; add --yes to go ahead")
    answer = input(f"{question} Go ahead? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise ParameterError("not confirmed; nothing was trained")


def _sweep(args: argparse.Namespace) -> int:
    import yaml

    from scalingbook.lab import sweeps

    device = page.pick_device(args.device)
    if args.status:
        rows = sweeps.sweep_status(REPO_ROOT / "sweeps", device)
        if args.markdown:  # the README's budget table: the full and paper profiles
            print("| sweep | profile | runs | stored | CPU-hours of the stored runs (2 cores) | GPU minutes |")
            print("|---|---|---|---|---|---|")
            for r in rows:
                if r["profile"] != "quick":
                    stored_hours = f"{r['cpu_hours']:.2f}" if r["stored"] else "-"
                    print(
                        f"| `{r['sweep']}` | {r['profile']} | {r['runs']} | {r['stored']} | {stored_hours} | not measured |"
                    )
            return 0
        print(
            f"{'sweep':32} {'profile':8} {'runs':>5} {'stored':>7} {'partial':>8} {'remaining':>10} {'CPU-hours':>10}"
        )
        for r in rows:
            print(
                f"{r['sweep']:32} {r['profile']:8} {r['runs']:5d} {r['stored']:7d} {r['partial']:8d} {r['remaining']:10d} "
                f"{r['cpu_hours']:10.2f}"
            )
        return 0
    if not args.config:
        print("scalingbook: error: name at least one sweep config, or ask for --status", file=sys.stderr)
        return EXIT_USAGE
    try:
        loaded = [sweeps.Sweep.load(path, profile=args.profile) for path in args.config]
        if args.profile in CONFIRM_PROFILES and device == "cpu" and args.slurm is None:
            flops, hours = _cpu_hours_left(loaded, args.profile, device, args.workers)
            if flops:
                _confirm(
                    f"the {args.profile} profile is sized for a GPU: {flops:.3g} FLOPs left to train, about "
                    f"{hours:,.1f} hours on this CPU with --workers {args.workers} (rate timed just now).",
                    args.yes,
                )
        options = {}
        for item in args.slurm or []:
            name, sep, value = item.partition("=")
            if not sep:
                raise sweeps.SweepError(f"--slurm expects KEY=VALUE, got {item!r}")
            options[name] = yaml.safe_load(value)
        if args.slurm is not None:
            executor = sweeps.slurm_executor(args.jobs, **options)
            for sweep in loaded:
                for result in sweeps.run_sweep(sweep, args.profile, device, executor=executor):
                    print(result.describe())
            return 0
        progress = sweeps.run_sweeps(
            loaded, args.profile, device, workers=args.workers, time_limit=args.time_limit, progress=True
        )
    except sweeps.SweepError as err:
        print(f"scalingbook: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_STOPPED if progress.stopped else 0


def _bench(args: argparse.Namespace) -> int:
    from scalingbook.chapters import performance
    from scalingbook.lab import epoch_data

    if args.benchmark == "fits":
        if args.csv is not None:
            check_text_file(args.csv, "--csv")
        try:
            result = performance.fit_benchmark(csv_path=args.csv, n_starts=args.starts)
        except (epoch_data.EpochDataError, epoch_data.EpochDataUnavailable) as err:
            raise ParameterError(str(err)) from None
        print(
            f"Approach 3 on {result['data']} ({result['n_points']} runs, {result['n_starts']} starts): batched "
            f"{result['batched_seconds']:.2f} s, scipy loop {result['scipy_seconds']:.2f} s, "
            f"{result['speedup']:.1f}x; objective {result['batched_objective']:.6g} vs {result['scipy_objective']:.6g}"
        )
    else:
        variants = performance.trainer_variants(
            cuda_graph=args.cuda_graph, compile=args.compile, workers=args.workers or 0
        )
        result = performance.population_benchmark(
            d_model=args.d_model,
            n_layers=args.layers,
            n_heads=args.heads,
            members=args.members,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            steps=args.steps,
            naive_members=args.naive_members,
            device=page.pick_device(args.device),
            variants=variants,
        )
        print(performance.population_table([result]))
    out = args.out or book.REPO_ROOT / ".cache" / "bench" / f"{args.benchmark}.json"
    print(f"written: {performance.write_benchmark_json(result, out)}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _folder(text: str) -> Path:
    """A folder to write into: it may not exist yet, but no file may stand in its way."""
    path = Path(text)
    blocking = next(p for p in (path, *path.parents) if p.exists())
    if not blocking.is_dir():
        raise argparse.ArgumentTypeError(f"{blocking} is a file, not a folder")
    return path


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments in one line, like every other input error (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="scalingbook", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="chapters and their parameters").set_defaults(func=_list)

    init = sub.add_parser("init", help="write the book's sources into a folder, to work outside a clone")
    init.add_argument("folder", type=_folder, nargs="?", default=Path("."), help="where (default: here)")
    init.set_defaults(func=_init)

    run = sub.add_parser("run", help="execute one chapter with papermill")
    run.add_argument("chapter", help="chapter name, as `scalingbook list` shows it")
    run.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable)",
    )
    run.add_argument(
        "--profile",
        choices=("quick", "full"),
        help="quick: tiny runs trained here; full: the committed CPU results (default: full where committed)",
    )
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to train (default auto)")
    run.add_argument("--force", action="store_true", help="run even if nothing changed")
    run.set_defaults(func=_run)

    build = sub.add_parser("build", help="run stale chapters, then render the static site")
    build.add_argument("--no-execute", action="store_true", help="render the last executed chapters as they are")
    build.add_argument("--force", action="store_true", help="run every chapter even if nothing changed")
    build.add_argument(
        "--defaults",
        action="store_true",
        help="return every chapter to its default parameters (by default a chapter last run "
        "with `scalingbook run -p ...` keeps those parameters)",
    )
    build.set_defaults(func=_build)

    assign = sub.add_parser("assignment", help="write a student notebook of a chapter, solutions stubbed")
    assign.add_argument("chapter", help="chapter name, as `scalingbook list` shows it")
    assign.add_argument("--out", type=_folder, required=True, help="folder to write the notebook into")
    assign.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter for this student (repeatable)",
    )
    assign.add_argument("--student", help="the student's id in the roster (default: the --out folder's name)")
    assign.add_argument("--solutions", action="store_true", help="write the answer key instead (solutions kept)")
    assign.set_defaults(func=_assignment)

    grade = sub.add_parser("grade", help="execute student notebooks in a sandbox and check their exercises")
    grade.add_argument(
        "notebook",
        type=Path,
        nargs="+",
        help="notebooks written by `scalingbook assignment`, each in a folder named after its student",
    )
    grade.add_argument("--student", help="the roster id of the one notebook's student (default: its folder's name)")
    grade.add_argument(
        "--timeout", type=_duration, default=900, help="limit for the whole notebook, e.g. 900 or 15m (900 s)"
    )
    grade.add_argument(
        "--cell-timeout",
        type=_duration,
        default=300,
        help="limit for one cell, which is then interrupted and the next one run (300)",
    )
    grade.add_argument("--memory", type=float, default=4, help="data memory of each process of a run, GiB (4)")
    grade.add_argument(
        "--report", type=_folder, help="folder for the reports and the class summary (default: beside each notebook)"
    )
    grade.set_defaults(func=_grade)

    sweep = sub.add_parser("sweep", help="train and evaluate every pending run of sweep configs, resumably")
    sweep.add_argument("config", type=Path, nargs="*", help="sweep YAML files (see scalingbook.lab.sweeps)")
    sweep.add_argument("--profile", choices=PROFILES, default="quick", help="which profile's settings")
    sweep.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train")
    sweep.add_argument(
        "--time-limit",
        type=_duration,
        metavar="DURATION",
        help="stop cleanly at a checkpoint after this long (e.g. 150m); run again to continue",
    )
    sweep.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="worker processes, one thread each (1); results are identical for any number",
    )
    sweep.add_argument("--status", action="store_true", help="list every sweep in sweeps/ with runs done and left")
    sweep.add_argument("--markdown", action="store_true", help="with --status: the README's budget table")
    sweep.add_argument(
        "--yes", action="store_true", help="train the paper profile on a CPU without asking (it is sized for a GPU)"
    )
    sweep.add_argument(
        "--slurm",
        nargs="*",
        metavar="KEY=VALUE",
        help="submit runs as Slurm jobs with these submitit options (e.g. slurm_partition=gpu)",
    )
    sweep.add_argument("--jobs", type=Path, default=Path(".cache/submitit"), help="folder for Slurm job logs")
    sweep.set_defaults(func=_sweep)

    bench = sub.add_parser("bench", help="time a benchmark against its simple baseline and write JSON")
    kinds = bench.add_subparsers(dest="benchmark", required=True)
    fits = kinds.add_parser("fits", help="Chinchilla Approach 3: batched L-BFGS against a loop of scipy")
    fits.add_argument(
        "--csv",
        type=Path,
        help="Epoch's extracted data (default: SCALINGBOOK_EPOCH_CSV, "
        "else the copy shipped in data/reference/, else synthetic runs)",
    )
    fits.add_argument("--starts", type=_positive_int, help="use this many of the 4,500 starts (default all)")
    population = kinds.add_parser("population", help="training M transformers: naive loop, vmap, this trainer")
    for flag, default, meaning in (
        ("--d-model", 64, "width"),
        ("--layers", 2, "depth"),
        ("--heads", 4, "attention heads"),
        ("--members", 200, "population size"),
        ("--seq-len", 96, "tokens per sequence"),
        ("--batch-size", 64, "sequences per member per step"),
        ("--steps", 10, "timed steps per repeat"),
        ("--naive-members", 4, "members the naive loop times (its rate is per member)"),
    ):
        population.add_argument(flag, type=_positive_int, default=default, help=f"{meaning} ({default})")
    population.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run")
    population.add_argument("--cuda-graph", action="store_true", help="also time the trainer as a CUDA graph")
    population.add_argument(
        "--compile",
        action="store_true",
        help="also time the trainer under torch.compile (with --workers: in groups too)",
    )
    population.add_argument(
        "--workers",
        type=_positive_int,
        help="also time the trainer as a CPU sweep runs it: member groups in N processes",
    )
    for kind in (fits, population):
        kind.add_argument("--out", type=Path, help="JSON file to write (default .cache/bench/NAME.json)")
    bench.set_defaults(func=_bench)
    return top


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    previous = os.environ.get(COMMAND_ENV_VAR)
    # What manifests written by this command and the notebook kernels it starts record as their maker.
    os.environ[COMMAND_ENV_VAR] = shlex.join(
        ["scalingbook", *(repo_relative(w) if os.path.isabs(w) else w for w in words)]
    )
    try:
        return _main(argv)
    finally:
        if previous is None:
            os.environ.pop(COMMAND_ENV_VAR, None)
        else:
            os.environ[COMMAND_ENV_VAR] = previous


def _main(argv: list[str] | None) -> int:
    try:
        args = parser().parse_args(argv)
        if args.command not in ("init", "bench"):
            project.require_project(book.NOTEBOOK_DIR.parent)
        code = args.func(args)
        sys.stdout.flush()  # so that a closed pipe shows here, not in the interpreter's last flush
        return code
    except (ParameterError, teaching.TeachingError) as err:
        print(f"scalingbook: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (book.ChapterError, page.DeviceError, sandbox.SandboxError, ResultError, project.ProjectError) as err:
        print(f"scalingbook: error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("scalingbook: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away: stop like a command killed by SIGPIPE. Point stdout at /dev/null so
        # the interpreter's final flush of what is still buffered does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
