"""Command line: ``trtadvisor audit | engine | rules | explain``.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input errors. Errors a user can
cause print one line with a ``Hint:`` and no traceback unless --debug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from trtadvisor import __version__
from trtadvisor.errors import UserError
from trtadvisor.findings import SEVERITY_ORDER
from trtadvisor.target import PRECISIONS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the one-line-with-a-hint rule and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}. Hint: run '{self.prog} --help' for the options\n")
        raise SystemExit(EXIT_ERROR)


def _add_target_options(p: argparse.ArgumentParser) -> None:
    t = p.add_argument_group("target")
    t.add_argument("--trt", metavar="VERSION", help="TensorRT version (default: the newest the rules cover)")
    t.add_argument("--sm", metavar="N|auto", help="GPU compute capability, e.g. 90 or 8.6; 'auto' asks the GPU")
    t.add_argument("--gpu", metavar="NAME", help="GPU name, e.g. A100, L4, H100 (see rules/gpus.toml)")
    t.add_argument("--precision", choices=PRECISIONS, help="precision to build for (default: fp16)")
    t.add_argument("--shapes", metavar="SPEC", help="shapes of dynamic inputs, trtexec style: name:1x3x224x224,...")


def _add_output_options(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    o = p.add_argument_group("output")
    o.add_argument("--format", choices=formats, help="report format (default: rich on a terminal, json otherwise)")
    o.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")
    o.add_argument("--fail-on", choices=("error", "warning", "info"), default="error",
                   help="exit 1 when a finding is at least this severe (default: error)")
    o.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings reach --fail-on")


def _add_artifact_options(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("TensorRT artifacts (what it really built)")
    a.add_argument("--layer-info", metavar="FILE", help="trtexec --exportLayerInfo JSON (or inspector output)")
    a.add_argument("--profile", metavar="FILE", help="trtexec --exportProfile JSON")
    a.add_argument("--timing", metavar="FILE", help="trtexec --exportTimes JSON")
    a.add_argument("--log", metavar="FILE", help="a trtexec log (version, device, summary, per-layer tables)")


def _add_build_options(p: argparse.ArgumentParser) -> None:
    b = p.add_argument_group("build where TensorRT exists")
    b.add_argument("--trtexec", metavar="PATH", help="build and profile with this trtexec, then confirm the prediction")
    b.add_argument("--build", action="store_true", help="build and profile with the tensorrt Python API, then confirm")
    b.add_argument("--artifacts-dir", metavar="DIR", default="trtadvisor-artifacts",
                   help="where --trtexec/--build write the engine, layer info, profile and log")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trtadvisor", description="Predict, explain and confirm the engine TensorRT builds "
                     "from an ONNX model.")
    parser.add_argument("--version", action="version", version=f"trtadvisor {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    audit = sub.add_parser("audit", help="predict the engine of an ONNX model, with findings and commands")
    audit.add_argument("model", metavar="MODEL.onnx")
    _add_target_options(audit)
    _add_output_options(audit, ("rich", "json"))
    _add_artifact_options(audit)
    _add_build_options(audit)
    audit.add_argument("--max-layers", type=int, default=80, help="layers shown in the rich report (default 80)")

    engine = sub.add_parser("engine", help="read what TensorRT built (no ONNX needed)")
    _add_artifact_options(engine)
    engine.add_argument("--onnx", metavar="MODEL.onnx", help="the model, to resolve ForeignNode ranges")
    _add_output_options(engine, ("rich", "json"))

    sub.add_parser("rules", help="list every rule: code, name, severity, summary")
    explain = sub.add_parser("explain", help="what a rule checks, why, examples, the fix and its source")
    explain.add_argument("code", metavar="CODE")
    return parser


def _write(text: str, output: str | None) -> None:
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {output} ({exc.strerror})", "choose a writable path for -o") from None
    else:
        sys.stdout.write(text)


def _choose_format(requested: str | None, output: str | None) -> str:
    if requested:
        return requested
    return "rich" if output is None and sys.stdout.isatty() else "json"


def _exit_code(severities: Sequence[str], fail_on: str, exit_zero: bool) -> int:
    if exit_zero:
        return EXIT_CLEAN
    threshold = SEVERITY_ORDER[fail_on]
    return EXIT_FINDINGS if any(SEVERITY_ORDER.get(s, 9) <= threshold for s in severities) else EXIT_CLEAN


def _artifacts_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) for k in ("layer_info", "profile", "timing", "log"))


def cmd_audit(args: argparse.Namespace) -> int:
    from trtadvisor.api import audit
    from trtadvisor.loader import parse_shape_overrides

    result = audit(args.model, trt=args.trt, sm=args.sm, gpu=args.gpu, precision=args.precision,
                   shapes=parse_shape_overrides(args.shapes))
    if args.trtexec or args.build:
        from trtadvisor.confirm import build_and_confirm

        build_and_confirm(result, Path(args.artifacts_dir), trtexec=args.trtexec, use_api=args.build)
    elif _artifacts_given(args):
        from trtadvisor.confirm import confirm_into

        confirm_into(result, layer_info=args.layer_info, profile=args.profile, timing=args.timing, log=args.log)
    fmt = _choose_format(args.format, args.output)
    if fmt == "json":
        from trtadvisor.report.json_report import render_json

        text = render_json(result)
    else:
        from trtadvisor.report.rich_report import render_rich

        text = render_rich(result, color=args.output is None and sys.stdout.isatty(), max_layers=args.max_layers)
    _write(text, args.output)
    return _exit_code([f.severity for f in result.findings], args.fail_on, args.exit_zero)


def cmd_engine(args: argparse.Namespace) -> int:
    from trtadvisor.confirm import read_engine_report

    report = read_engine_report(layer_info=args.layer_info, profile=args.profile, timing=args.timing,
                                log=args.log, onnx=args.onnx)
    fmt = _choose_format(args.format, args.output)
    color = args.output is None and sys.stdout.isatty()
    text = report.render_json() if fmt == "json" else report.render_rich(color=color)
    _write(text, args.output)
    return _exit_code([], args.fail_on, args.exit_zero)


def cmd_rules(args: argparse.Namespace) -> int:
    from trtadvisor.report.rules_doc import render_rules

    sys.stdout.write(render_rules())
    return EXIT_CLEAN


def cmd_explain(args: argparse.Namespace) -> int:
    from trtadvisor.report.rules_doc import render_explain

    sys.stdout.write(render_explain(args.code))
    return EXIT_CLEAN


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "audit": cmd_audit,
    "engine": cmd_engine,
    "rules": cmd_rules,
    "explain": cmd_explain,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        if args.debug:
            raise
        sys.stderr.write(exc.one_line() + "\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted. Hint: run the command again\n")
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_CLEAN
    except Exception as exc:  # a bug, or input we did not foresee: still one line, never a traceback
        if args.debug:
            raise
        sys.stderr.write(f"error: internal error ({type(exc).__name__}: {str(exc)[:200]}). "
                         "Hint: rerun with --debug and report the traceback with the input that caused it\n")
        return EXIT_ERROR
