"""The `svdgan` command line. Bad input ends with one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

from svdgan.defaults import END_FRAMES, MIN_FRAMES, MODE, NORMALIZE, PRECISION, THRESHOLD
from svdgan.errors import UserError


def _cmd_synth(args: argparse.Namespace) -> None:
    from svdgan.data.synth import SynthConfig, write_synthetic

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty")
    cfg = SynthConfig(width=args.width, height=args.height, train_videos=args.train_videos,
                      test_videos=args.test_videos, frames=args.frames, seed=args.seed)
    if min(cfg.width, cfg.height) < 16 or cfg.frames < 2 or cfg.train_videos < 1 or cfg.test_videos < 1:
        raise UserError("synth needs width and height >= 16, frames >= 2 and at least one video per split")
    write_synthetic(out, cfg)
    print(f"wrote a synthetic dataset to {out} ({cfg.train_videos} training and {cfg.test_videos} test "
          f"videos of {cfg.frames} frames, {cfg.width}x{cfg.height}; ground truth in synth.m and synth.mat)")


def _cmd_train(args: argparse.Namespace) -> None:
    from svdgan.config import load_config
    from svdgan.scoring.fit import train

    config = None if args.resume else load_config(args.config, args.set)
    path = train(args.data, args.out, config, resume=args.resume, overrides=args.set,
                 progress=not args.quiet, scene=args.scene)
    print(f"checkpoint: {path}")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from svdgan.evaluation.report import evaluate_checkpoint

    metrics = evaluate_checkpoint(args.checkpoint, args.data, args.out, args.normalize,
                                  args.ground_truth, progress=not args.quiet, overrides=args.set,
                                  scene=args.scene, mode=args.mode, precision=args.precision)
    summary = {k: metrics.get(k) for k in ("micro_auc", "macro_auc", "eer", "n_frames", "normalize", "mode")}
    print(json.dumps(summary))
    print(f"report written to {args.out}")


def _cmd_calibrate(args: argparse.Namespace) -> None:
    from svdgan.scoring.fit import calibrate

    stats = calibrate(args.checkpoint, args.data, args.out, args.set, args.frames, progress=not args.quiet)
    print(json.dumps(stats))
    print(f"scoring model written to {args.out}")


def _cmd_teach(args: argparse.Namespace) -> None:
    from svdgan.scoring.fit import teach

    size = teach(args.checkpoint, args.normal, args.out, args.undo)
    print(f"{args.out}: {size['teachings']} teaching(s), {size['taught_frames']} taught frames beside "
          f"{size['normal_frames'] - size['taught_frames']} fitted normal frames")


def _cmd_detect(args: argparse.Namespace) -> None:
    from svdgan.live.detect import DetectOptions, detect, format_summary
    from svdgan.scoring.detector import Detector

    scorer = None
    if args.backend == "onnxruntime":
        from svdgan.deploy.onnx import onnx_scorer

        scorer = onnx_scorer(args.onnx, args.mode)
    elif args.onnx:
        raise UserError("--onnx is the model of --backend onnxruntime")
    detector = Detector.load(args.checkpoint, args.mode, args.precision, scorer=scorer)
    options = DetectOptions(args.threshold, args.min_frames, args.end_frames, args.events, args.scores, args.output,
                            args.max_frames, args.threads, args.learn)
    summary = detect(args.sources, detector, options)
    print(format_summary(summary), file=sys.stderr)


def _cmd_export(args: argparse.Namespace) -> None:
    from svdgan.deploy.onnx import export_onnx
    from svdgan.model.checkpoint import default_checkpoint

    check = export_onnx(default_checkpoint(args.checkpoint), args.onnx)
    print(json.dumps({"onnx": args.onnx, **check}))


def _cmd_benchmark(args: argparse.Namespace) -> None:
    from svdgan.evaluation.speed import format_speed, run

    results = run(args.checkpoint, args.config, args.frames, args.streams, args.memory_frames, args.precision,
                  args.generator_frames, args.size)
    print(format_speed(results))
    if args.json:
        from svdgan.utils.files import write_results

        write_results(args.json, results)


def _cmd_metrics(args: argparse.Namespace) -> None:
    from svdgan.data.groundtruth import labels_from_ranges, read_ground_truth
    from svdgan.evaluation.metrics import evaluate
    from svdgan.evaluation.scorefiles import read_scores

    videos = read_scores(args.scores, args.score_type)
    truth = read_ground_truth(args.ground_truth)
    if len(truth) != len(videos):
        raise UserError(f"ground truth lists {len(truth)} videos, the scores {len(videos)}")
    zero_based = args.protocol == "authors"
    labelled = [(name, scores, labels_from_ranges(ranges, len(scores), zero_based, name))
                for (name, scores), ranges in zip(videos, truth)]
    print(json.dumps(evaluate(labelled, normalize="as given")))


def _cmd_info(args: argparse.Namespace) -> None:
    from svdgan.evaluation.info import detector_info, format_detector_info

    info = detector_info(args.checkpoint, args.config, args.set, timed=0 if args.no_timing else 30)
    print(json.dumps(info) if args.json else format_detector_info(info))


def _cmd_serve(args: argparse.Namespace) -> None:
    from svdgan.serve import serve

    if args.token is not None:
        raise UserError("--token would show the token to every user of this machine (ps): set SVDGAN_TOKEN "
                        "or pass --token-file")
    worker = None if args.worker is None else (args.worker or f"{socket.gethostname()}-{args.port}")
    serve(args.config, args.host, args.port, args.token_file, args.storage, args.certfile, args.keyfile, args.db,
          worker, args.review, args.advertise)


def _cmd_demo(args: argparse.Namespace) -> None:
    from svdgan.demo import run_demo

    run_demo(Path(args.out), steps=args.steps, svdgan=args.svdgan, objects_generator=args.objects_generator)


def _generator_args(p: argparse.ArgumentParser) -> None:
    """The options of a model with a generator (configs/paper.yaml): one without refuses them."""
    p.add_argument("--mode", default=MODE, choices=["exact", "fast"],
                   help=f"a generator's streaming (default {MODE}): exact = over its last T frames, as evaluate; "
                        "fast = its ConvLSTM state carried. Only for a model with a generator")
    p.add_argument("--precision", default=PRECISION, choices=["auto", "fp32", "bf16"],
                   help=f"a generator's arithmetic (default {PRECISION}): bfloat16 only where the CPU or GPU runs "
                        "it natively (AVX512_BF16, AMX), else fp32. Only for a model with a generator")


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="recipe: YAML file with sections model, loss, train, score, memory "
                   "(default: the detector that ships; configs/paper.yaml: the paper's SVD-GAN)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set train.steps=100 (repeatable)")


def _synth_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write a synthetic surveillance dataset with ground truth")
    p.add_argument("out", help="output folder (frame-folder layout)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--height", type=int, default=72)
    p.add_argument("--frames", type=int, default=80, help="frames per video")
    p.add_argument("--train-videos", type=int, default=8)
    p.add_argument("--test-videos", type=int, default=6)
    p.set_defaults(func=_cmd_synth)


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train on the normal (training) videos of a dataset")
    p.add_argument("--data", required=True, help="dataset root, video folder or video file")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, losses.csv, previews/")
    _config_args(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--scene", help="ShanghaiTech: train on one scene only (e.g. 01)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score every test frame and write the report")
    p.add_argument("--checkpoint", help="trained checkpoint or scoring model (default: the shipped UCSD Ped2 model)")
    p.add_argument("--data", required=True, help="dataset root (test videos and ground truth)")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--normalize", default=NORMALIZE, choices=["video", "train", "none"],
                   help=f"train (default {NORMALIZE}): in units of the normal footage's scores (causal, as live); "
                        "video: min-max per test video (the paper's; needs the whole video)")
    p.add_argument("--ground-truth", help="ground truth file, if not found in the dataset root")
    p.add_argument("--scene", help="ShanghaiTech: evaluate one scene only (e.g. 01)")
    _generator_args(p)
    p.add_argument("--set", action="append", default=[], metavar="score.KEY=VALUE",
                   help="score option, e.g. --set score.patch=16 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)


def _calibrate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="normal-score statistics from normal footage; writes a scoring model")
    p.add_argument("--checkpoint", required=True, help="trained checkpoint")
    p.add_argument("--data", required=True, help="normal footage: a dataset's training split, a folder or a video")
    p.add_argument("--out", required=True, help="output model file (generator, config, statistics)")
    p.add_argument("--set", action="append", default=[], metavar="score.KEY=VALUE",
                   help="score or memory option to calibrate for, e.g. --set score.patch=16 or memory.enabled=true "
                   "(repeatable)")
    p.add_argument("--frames", type=int, help="normal frames to score (default: the config's train.stats_frames)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_calibrate)


def _teach_parser(sub: argparse._SubParsersAction) -> None:
    about = ("teach a model that footage of its camera is normal (a false alarm's clip): its memory of normal "
             "motion also holds the clip's motion, so the same footage no longer raises an event; --undo takes "
             "the last teaching back. Taught frames are capped at memory.max_taught, the oldest teaching "
             "leaving first")
    p = sub.add_parser("teach", help=about, description=about)
    p.add_argument("checkpoint", help="model file to teach (from svdgan train, calibrate or teach)")
    p.add_argument("--normal", nargs="+", default=[], metavar="CLIP",
                   help="normal footage of this camera: video files or frame folders")
    p.add_argument("--undo", action="store_true", help="first take back the model's last teaching")
    p.add_argument("--out", required=True, help="the taught model file (may be CHECKPOINT itself: written atomically)")
    p.set_defaults(func=_cmd_teach)


def _detect_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="score live sources frame by frame and raise events")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="video file, frame folder, camera index (0) or stream URL (rtsp://, http://)")
    p.add_argument("--checkpoint", help="trained checkpoint or scoring model (default: the shipped UCSD Ped2 model)")
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"an event's frames score above this (1.0 = the worst normal frame; default {THRESHOLD:g})")
    p.add_argument("--min-frames", type=int, default=MIN_FRAMES,
                   help=f"frames in a row above the threshold that start an event (default {MIN_FRAMES})")
    p.add_argument("--end-frames", type=int, default=END_FRAMES,
                   help=f"frames in a row not above the threshold that end an event (default {END_FRAMES})")
    p.add_argument("--events", help="write the events here, one JSON line each (default: standard output)")
    p.add_argument("--scores", help="write every frame's score here (CSV frame,score); one per source, numbered")
    p.add_argument("--output", help="annotated video (.mp4 or .avi); one per source, numbered, if several")
    p.add_argument("--max-frames", type=int, help="stop after this many frames in all")
    p.add_argument("--threads", type=int, default=0, help="torch and OpenCV threads (0: their defaults)")
    p.add_argument("--learn", metavar="N|90s|2m",
                   help="learn each source's normal from its first N frames (or seconds, minutes) before scoring "
                   "the rest: a camera the model was not fitted on")
    _generator_args(p)
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"],
                   help="the generator's runtime (only for a model with a generator)")
    p.add_argument("--onnx", help="model from `svdgan export` for --backend onnxruntime (default: export now)")
    p.set_defaults(func=_cmd_detect)


def _export_parser(sub: argparse._SubParsersAction) -> None:
    about = ("export a model's generator to ONNX (one file, dynamic batch, checked against torch); a model "
             "without one, such as the shipped memory of normal motion, has nothing to export: its flow is "
             "OpenCV's and its memory a k-d tree search")
    p = sub.add_parser("export", help=about, description=about)
    p.add_argument("--checkpoint", help="trained checkpoint or scoring model (default: the shipped UCSD Ped2 model)")
    p.add_argument("--onnx", required=True, help="output .onnx file")
    p.set_defaults(func=_cmd_export)


def _benchmark_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="what the detector costs here: each stage a frame, frames/s, streams "
                       "scored together; a generator's modes where the model has one")
    p.add_argument("--checkpoint", help="model file to time (default: the shipped one)")
    p.add_argument("--config", help="time this recipe instead, fitted on the synthetic camera (a generator it has "
                   "gets random weights, which cost what trained ones do)")
    p.add_argument("--frames", type=int, default=200, help="frames timed on one stream")
    p.add_argument("--streams", type=int, default=8, help="then 1..N streams scored together (0: skip)")
    p.add_argument("--memory-frames", type=int, default=0,
                   help="also stream this many frames and report resident memory (docs: 100000)")
    p.add_argument("--generator-frames", type=int, default=100, help="a generator's frames timed per mode")
    p.add_argument("--size", type=int, help="with --config: the generator's frame size (default the recipe's)")
    p.add_argument("--precision", default=PRECISION, choices=["auto", "fp32", "bf16"],
                   help="a generator's arithmetic: bfloat16 rows beside fp32 only where native (auto) or asked for")
    p.add_argument("--json", help="write the figures here (e.g. benchmarks/results/detector.json)")
    p.set_defaults(func=_cmd_benchmark)


def _metrics_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="AUC and EER of per-frame scores made elsewhere")
    p.add_argument("--scores", required=True, help="a scores.csv, or a folder of one CSV per video")
    p.add_argument("--ground-truth", required=True, help=".mat (cell gt) or UCSD-style .m file")
    p.add_argument("--protocol", default="standard", choices=["standard", "authors"],
                   help="authors: ranges applied to 0-based frame indices, as the SVD-GAN code does")
    p.add_argument("--score-type", default="auto", choices=["auto", "anomaly", "regularity"],
                   help="auto: the authors' files (unnamed index column) hold regularity scores")
    p.set_defaults(func=_cmd_metrics)


def _info_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="what a model is and costs: its memory (size, cells, cost a frame by stage) "
                       "and its generator (parameters, FLOPs) where it has one")
    p.add_argument("--checkpoint", help="model file (default: the shipped one)")
    _config_args(p)
    p.add_argument("--no-timing", action="store_true", help="leave out the cost a frame (a short timed run)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_info)


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="live pages, event review, HTTP API and MQTT for several cameras")
    p.add_argument("--config", help="serve.yaml: cameras, storage, retention, MQTT (default: a synthetic camera)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (beyond loopback, a token is required); its name is an allowed Host")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--token-file", help="a file holding the token every request must carry (default: $SVDGAN_TOKEN; "
                   "at least 16 bytes)")
    p.add_argument("--token", help=argparse.SUPPRESS)  # refused with a pointer to the two safe ways
    p.add_argument("--certfile", help="serve HTTPS with this certificate (PEM), with --keyfile")
    p.add_argument("--keyfile", help="the certificate's private key (PEM)")
    p.add_argument("--storage", help="folder for events.db and the media (overrides the config)")
    p.add_argument("--db", metavar="URL", help="postgresql://USER@HOST/NAME: events, cameras, models and verdicts in "
                   "PostgreSQL (default: the config's database, $SVDGAN_DATABASE, else SQLite in --storage)")
    p.add_argument("--worker", nargs="?", const="", metavar="NAME",
                   help="a site's worker (with --db): score the cameras it leases, shared with the other workers "
                   "(NAME default: HOST-PORT); the config's cameras join the site's")
    p.add_argument("--review", action="store_true", help="a site's review page (with --db): every camera and event "
                   "of the site, scoring none")
    p.add_argument("--advertise", metavar="URL", help="the address the site's other processes reach this one at "
                   "(default: http://HOST:PORT from --host)")
    p.set_defaults(func=_cmd_serve)


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="synthesise a scene, fit the recipe, evaluate and write the report")
    p.add_argument("--out", default="demo_out", help="folder for the data, the run and the report")
    p.add_argument("--svdgan", action="store_true", help="also train the demo's 64 px SVD-GAN (a few minutes)")
    p.add_argument("--steps", type=int, default=None, help="the SVD-GAN's training steps (default: the demo's)")
    p.add_argument("--objects-generator", action="store_true",
                   help="also the recipe with the SVD-GAN on objects (1000 steps: about 20 minutes on 2 cores)")
    p.set_defaults(func=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svdgan", description="SVD-GAN video anomaly detection: "
                                     "learn normal footage, score every frame.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (_synth_parser, _train_parser, _evaluate_parser, _calibrate_parser, _teach_parser,
                        _detect_parser, _export_parser, _benchmark_parser, _metrics_parser, _info_parser,
                        _serve_parser, _demo_parser):
        add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("svdgan: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
