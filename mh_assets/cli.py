"""The ``mh-assets`` command: demo, run, synth (and lineage, for audits).

A user's mistake -- an invalid setting, a missing ``--extract`` file, the preset's
pretrained weights not on this machine, an artifacts folder that cannot be written --
prints ``mh-assets: <what and what to do>`` on stderr and exits 2, without a traceback;
a run that fails exits 1 with the failed stage and its one-sentence reason. A traceback
means a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from mh_assets.core.modelling.config import preset_config
from mh_assets.core.modelling.weights import MissingWeightsError, resolve_model_dir
from mh_assets.core.registry import ExtractFormatError
from mh_assets.core.storage import ArtifactStorageError
from mh_assets.core.synthetic import SCENARIOS
from mh_assets.settings import PRESETS, Settings, SettingsError

DEMO_PATIENTS = 5000
DEMO_SEED = 2025


class UsageError(Exception):
    """A mistake in how the command was called: printed as one line, exit code 2."""


#: Errors that are the user's or the environment's, not the program's.
USER_ERRORS = (UsageError, SettingsError, ArtifactStorageError, ExtractFormatError,
               MissingWeightsError)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mh-assets",
        description="Sex-specific diagnostic subtypes from RAE-CMBD extracts, as Dagster assets.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="synthetic extract if the landing zone is empty, "
                          "then the whole graph for both sexes")
    demo.add_argument("--patients", type=_positive_int, default=DEMO_PATIENTS)
    demo.add_argument("--preset", choices=PRESETS, default=None)
    demo.add_argument("--scenario", choices=SCENARIOS, default=SCENARIOS[0],
                      help="what the synthetic extract plants, if one is written")

    run = sub.add_parser("run", help="materialize the whole graph, both sexes, into the "
                         "persistent Dagster instance")
    run.add_argument("--extract", type=Path, default=None,
                     help="this extract file only, instead of the extracts in MH_EXTRACTS_DIR "
                     "(all of them, combined, or the newest: MH_EXTRACT_MODE)")
    run.add_argument("--preset", choices=PRESETS, default=None)
    run.add_argument("--sex", choices=("female", "male"), action="append", default=None,
                     help="only this partition (repeatable); default both")

    synth = sub.add_parser("synth", help="write a synthetic extract in the raw registry layout")
    synth.add_argument("--patients", type=_positive_int, required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--out", type=Path, required=True,
                       help="a file, or a directory for a registry-style file name")
    synth.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "latin-1"), default="utf-8")
    synth.add_argument("--delimiter", choices=(",", ";"), default=",")
    synth.add_argument("--headers", choices=("es", "en"), default="es")
    synth.add_argument("--scenario", choices=SCENARIOS, default=SCENARIOS[0],
                       help="subtypes: planted subtypes to recover; confounded: the same, with "
                       "a latent complexity driving code counts and outcomes; null: no structure")

    lineage = sub.add_parser("lineage", help="the chain from a published file back to the "
                             "extract, checkpoints and settings (from the Dagster instance)")
    lineage.add_argument("path", help="a file under MH_ARTIFACTS_DIR, e.g. "
                         "artifacts/tables/sud_by_sex.csv")
    lineage.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except USER_ERRORS as err:
        return _user_error(str(err))
    except OSError as err:  # the environment refused something outside the artifacts
        if err.filename is None:
            raise
        return _user_error(_os_error_sentence(err))


def _user_error(message: str) -> int:
    for line in message.strip().splitlines() or ["unknown error"]:
        print(f"mh-assets: {line}", file=sys.stderr)
    return 2


def _os_error_sentence(err: OSError) -> str:
    import errno

    path = err.filename
    if err.errno == errno.EROFS:
        return f"cannot write {path}: the disk is read-only; choose a writable location"
    if err.errno in (errno.EACCES, errno.EPERM):
        return (f"{path}: permission denied; check its permissions, or choose a location "
                "this user may use")
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {path}: the disk is full; free space there or choose another disk"
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"cannot create {path}: a file is in the way of a folder; move it away"
    return f"{path}: {err.strerror or type(err).__name__}"


def _main(args: argparse.Namespace) -> int:
    if args.command == "synth":
        return _synth(args)
    settings = Settings.from_env()  # read once; everything below is given this object
    if getattr(args, "preset", None):
        settings = replace(settings, preset=args.preset)
    if args.command == "demo":
        return _demo(args, settings)
    if args.command == "run":
        return _run(settings, args.extract, args.sex)
    if args.command == "lineage":
        from mh_assets.definitions import build_defs
        from mh_assets.ops.lineage import run as lineage
        from mh_assets.ops.runner import ensure_instance

        return lineage(args.path, build_defs(settings), ensure_instance(),
                       settings.artifacts_dir, as_json=args.json)
    return 2


def _synth(args: argparse.Namespace) -> int:
    from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract

    spec = SyntheticSpec(patients=args.patients, seed=args.seed, encoding=args.encoding,
                         delimiter=args.delimiter, header_language=args.headers,
                         scenario=args.scenario)
    started = time.perf_counter()
    result = write_synthetic_extract(spec, args.out)
    print(f"wrote {result.extract_path} ({args.patients} rows, {args.scenario} scenario, "
          f"{time.perf_counter() - started:.1f} s); ground truth: {result.truth_path}")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from mh_assets.core.registry import find_extracts
    from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract

    _check_weights(settings)  # before a synthetic extract is written for a run that cannot go
    settings.extracts_dir.mkdir(parents=True, exist_ok=True)
    if not find_extracts(settings.extracts_dir):
        result = write_synthetic_extract(
            SyntheticSpec(patients=args.patients, seed=DEMO_SEED, scenario=args.scenario),
            settings.extracts_dir,
        )
        print(f"Landing zone was empty: wrote a synthetic extract {result.extract_path.name}")
    return _run(settings, None, None)


def _run(settings: Settings, extract: Path | None, sexes: list[str] | None) -> int:
    from mh_assets.ops.recovery import RunInProgress, one_run_at_a_time
    from mh_assets.settings import dagster_home

    if extract is not None and not extract.is_file():
        problem = "is a folder, not a file" if extract.is_dir() else "does not exist"
        raise UsageError(
            f"--extract {extract}: {problem}; give the path of an extract file, or leave "
            f"--extract out to read the extracts in MH_EXTRACTS_DIR ({settings.extracts_dir}; "
            f"MH_EXTRACT_MODE={settings.extract_mode})")
    _check_weights(settings)
    home = dagster_home()
    with contextlib.ExitStack() as held:
        # the lock first: a second run is refused in a second, before the code location,
        # the instance and the definitions are loaded
        try:
            home.mkdir(parents=True, exist_ok=True)
            held.enter_context(one_run_at_a_time(home))
        except RunInProgress as err:
            raise UsageError(str(err)) from None
        except OSError as err:
            raise _unusable_home(err) from None
        return _run_locked(settings, extract, sexes)


def _check_weights(settings: Settings) -> None:
    """The preset's pretrained weights, before any run: a missing DeBERTa is the user's to
    provide, said at once (exit 2) rather than after the ingest stage, from a failed step
    (raises :class:`MissingWeightsError`)."""
    resolve_model_dir(preset_config(settings.preset, seed=settings.seed))


def _unusable_home(err: OSError) -> UsageError:
    return UsageError(
        f"cannot use the Dagster instance in {os.environ.get('DAGSTER_HOME')}: "
        f"{err.strerror or err}; point DAGSTER_HOME at a writable folder")


def _run_locked(settings: Settings, extract: Path | None, sexes: list[str] | None) -> int:
    """The staged runs, the instance's run lock held."""
    from mh_assets.core import layout
    from mh_assets.core.registry import newest_extract

    if extract is None:  # an empty landing zone is said at once (exit 2), not by a failed run
        newest_extract(settings.extracts_dir)
    from mh_assets.definitions import build_defs
    from mh_assets.ops.runner import ensure_instance, materialize_all

    try:
        instance = ensure_instance()
    except OSError as err:
        raise _unusable_home(err) from None
    defs = build_defs(settings)

    started = time.perf_counter()
    print(f"Preset {settings.preset}; extracts {settings.extracts_dir}; "
          f"artifacts {settings.artifacts_dir}; Dagster instance {os.environ['DAGSTER_HOME']}")
    try:
        run_ids = materialize_all(
            defs, instance, extract=extract.resolve() if extract else None,
            sexes=tuple(sexes) if sexes else ("female", "male"),
        )
    except RuntimeError as err:
        for line in str(err).splitlines():  # a line per failed stage (partition)
            print(f"FAILED: {line}", file=sys.stderr)
        return 1
    print(f"\nDone in {time.perf_counter() - started:.0f} s ({len(run_ids)} runs).")
    print(f"Outputs:  {settings.artifacts_dir}  (restricted/ holds patient-level data)")
    report = settings.artifacts_dir / layout.REPORT
    if report.exists():
        print(f"Report:   {report}")
    print("UI:       make ui   (or: dagster dev -w workspace.yaml -h 127.0.0.1), "
          "then open http://127.0.0.1:3000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
