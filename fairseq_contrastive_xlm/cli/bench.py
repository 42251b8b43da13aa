"""cxlm-bench: the plugin against stock fairseq, measured in one run with fairseq's own Trainer.

    cxlm-bench --data runs/demo/data                                  # CPU: a small model
    cxlm-bench --data data-bin --size base --bf16 --json bench.json   # on a GPU

Same model size and tokens per batch (--max-tokens) everywhere:
  (a) stock fairseq: task masked_lm, model roberta, criterion masked_lm, on DATA/mono/<lang>
  (b) ours, MLM only          (c) ours, MLM + TLM
  (d) ours, MLM + TLM + NT-Xent with separate unmasked views: mean (the default), first-token and max pooling
  (e) the same with --mlm-on-views: the views' one forward also trains MLM on them
All runs are built first and warmed up (--warmup updates, not timed); then --repeats rounds, in each of which
the runs take turns step by step (data loading included), the order rotated each step, until each has timed a
window of --updates train steps. A ratio is taken within each round and reported as its median and spread,
(max - min) / median, so that a drift of the machine's speed falls on both sides alike. Then the largest memory
of --repeats more steps of each run.
"Time per LM token" divides by the tokens that carry an MLM/TLM loss (MLM blocks, TLM pairs, masked
views), so that (d)/(c) shows what the contrastive term costs on top of training the same LM tokens.
Then NT-Xent alone as the number of gathered negatives grows (256 -> 8192), and the negatives reachable at a
fixed memory budget by a bigger batch or by the momentum queue. It ends with one line per target:
target <name> <measured> <goal> ok|short.

    cxlm-bench --data data-bin --gpu-check            # on a GPU: precision check, then the base bf16 bench
    cxlm-bench --data runs/demo/data --gpu-check --smoke   # the same check on a CPU, tiny model
    cxlm-bench --data runs/demo/data --data-only --vocab-size 250002 --json data.json   # no model: the data path
    cxlm-bench --prepare corpus.txt.xz --spm-model spm.model --dict dict.txt --json prepare.json   # cxlm-prepare

--gpu-check trains the same steps (MLM + TLM + NT-Xent, packed views with their 3-D attention mask, the negatives
queue) in fp32, fp16 and bf16 from the same weights and batches; every loss must be finite and stay within
PRECISION_TOLERANCE of fp32's (exit status 1 otherwise). On a GPU, the bench of the base model in bf16 follows.
"""

import argparse
import dataclasses
import shutil
import tempfile

import torch

from ..benchmarks import data_path, prepare_speed
from ..benchmarks.data_path import DataPathSettings
from ..benchmarks.precision import precision_check
from ..benchmarks.report import run_all
from ..benchmarks.training import SIZES, BenchSettings, find_pair
from ..errors import check_input_file
from . import command, write_json
from .inputs import parse_numbers


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="a data directory (cxlm-prepare) with mono/<lang> and para/<pair>")
    parser.add_argument(
        "--prepare",
        metavar="CORPUS",
        help="no model: cxlm-prepare on this text against SentencePiece's own encode speed "
        "(benchmarks/prepare_speed.py)",
    )
    parser.add_argument("--spm-model", help="--prepare: the SentencePiece model (with --dict; default: trained here)")
    parser.add_argument("--dict", help="--prepare: the fairseq dictionary of --spm-model")
    parser.add_argument("--lang", default="en", help="the MLM language (default en)")
    parser.add_argument("--pair", help="the TLM / NT-Xent pair (default: the first pair with --lang)")
    parser.add_argument(
        "--size", choices=sorted(SIZES), default=None, help="model size (default: base on a GPU, small on CPU)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="tokens per batch (default 16384 on a GPU, 4096 on CPU)"
    )
    parser.add_argument(
        "--tokens-per-sample", type=int, default=128, help="MLM block and TLM pair length (default 128)"
    )
    parser.add_argument("--updates", type=int, default=8, help="updates per timed window (default 8)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed updates first (default 3)")
    parser.add_argument(
        "--repeats", type=int, default=5, help="interleaved rounds of timed windows (default %(default)s)"
    )
    parser.add_argument("--fp16", action="store_true", help="fairseq's --fp16 (GPU)")
    parser.add_argument("--bf16", action="store_true", help="fairseq's --bf16 (GPU)")
    parser.add_argument("--queue-sizes", default="16384,65536", help="momentum-queue sizes to measure (comma list)")
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny, quick run that only checks the tables are produced"
    )
    parser.add_argument(
        "--gpu-check",
        action="store_true",
        help="check fp16 and bf16 training against fp32 (then, on a GPU, bench the base model in bf16)",
    )
    parser.add_argument(
        "--data-only",
        action="store_true",
        help="no model: our data path against stock masked_lm's on DATA/mono/<--lang> (benchmarks/data_path.py)",
    )
    parser.add_argument("--vocab-size", type=int, default=250_002, help="--data-only: dictionary padded to this")
    parser.add_argument("--items", type=int, default=1_000_000, help="--data-only: items an epoch (the text repeated)")
    parser.add_argument("--batches", type=int, default=200, help="--data-only: batches timed on each side")
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)
    if not (args.data or args.prepare):
        parser.error("give --data DIR (the training benches) or --prepare CORPUS")
    gpu = torch.cuda.is_available()
    if args.smoke:
        args.size, args.max_tokens, args.updates, args.warmup, args.repeats = "smoke", 1024, 2, 1, 2
        args.queue_sizes = "512"
    args.queue_sizes = tuple(parse_numbers(args.queue_sizes, "--queue-sizes", int))
    args.size = args.size or ("base" if gpu else "small")
    args.max_tokens = args.max_tokens or (16384 if gpu else 4096)
    return args


def settings_of(args) -> BenchSettings:
    """The options the benchmark library reads, out of the parsed command line."""
    return BenchSettings(**{field.name: getattr(args, field.name) for field in dataclasses.fields(BenchSettings)})


@command("cxlm-bench")
def main(argv=None):
    args = parse_args(argv)
    if args.prepare:
        check_input_file(args.prepare, "--prepare corpus")
        work = tempfile.mkdtemp(prefix="cxlm-bench-prepare-")
        report = {"prepare": prepare_speed.compare(args.prepare, work, args.spm_model, args.dict)}
        if args.json:
            write_json(args.json, report)
        return
    if args.data_only:
        settings = DataPathSettings(args.vocab_size, args.items, args.tokens_per_sample, args.max_tokens, args.batches)
        report = {"data_path": data_path.compare(args.data, args.lang, settings)}
        data_path.print_report(report["data_path"])
        if args.json:
            write_json(args.json, report)
        return
    mono, pair = find_pair(args.data, args.lang, args.pair)
    settings = settings_of(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    save_dir = tempfile.mkdtemp(prefix="cxlm-bench-")
    try:
        if args.gpu_check:
            passed, report = precision_check(settings, pair, device, save_dir)
            if args.json:
                write_json(args.json, report)
            if passed and device.type == "cuda":
                settings = dataclasses.replace(settings, size="base", bf16=True, fp16=False)
                bench(args, settings, mono, pair, device, save_dir)
            if not passed:
                raise SystemExit(1)
        else:
            bench(args, settings, mono, pair, device, save_dir)
    finally:
        shutil.rmtree(save_dir, ignore_errors=True)


def bench(args, settings, mono, pair, device, save_dir):
    """Every run, table and target; with --json, every number written there too."""
    report = run_all(settings, mono, pair, device, save_dir)
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
