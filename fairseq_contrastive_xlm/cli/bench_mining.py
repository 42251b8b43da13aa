"""cxlm-bench-mining: what bitext mining costs as collections grow, measured in one run.

    cxlm-bench-mining --checkpoint runs/demo/lambda_1.0/checkpoints/checkpoint_last.pt --data runs/demo/data \\
        --text runs/demo/raw/heldout/en-de.de --json mining_bench.json
    cxlm-bench-mining --smoke

1. Embedding throughput (with --checkpoint, --data and --text): sentences per second of cxlm-embed's path.
2. Mining n source x n target vectors (n from --sizes; 128-dimensional like the projection head's output, a tenth
   of them planted translations) by three methods: the exact faiss index, the IVF index, and a blockwise torch
   matrix product that keeps a running top k (never an n x n matrix). Each method runs in a fresh process so its
   peak memory (resident set) is its own. Above --max-exact vectors the two exact methods search a sample of
   --sample queries and their time is scaled to all 2n queries (marked "extrapolated"); IVF always runs whole.
   Recall: the share of the first 2,000 queries whose nearest neighbour each method finds as the exact index does.
   Memory: the peak resident set above what the process held when it started (vectors, index, search buffers).
"""

import argparse

import torch

from ..benchmarks.mining import DIM, embedding_throughput, mining_table
from . import command, write_json
from .inputs import parse_numbers


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cxlm-bench-mining", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="vectors a side (default 10k, 100k, 1M)")
    parser.add_argument("--max-exact", type=int, default=100_000, help="above this, exact methods run on a sample")
    parser.add_argument("--sample", type=int, default=10_000, help="queries per direction sampled above --max-exact")
    parser.add_argument("--k", type=int, default=4, help="neighbours (default 4, the margin's)")
    parser.add_argument("--checkpoint", help="with --data and --text: measure embedding throughput")
    parser.add_argument("--data", help="the checkpoint's data directory")
    parser.add_argument("--text", help="sentences to embed, one per line")
    parser.add_argument("--sentences", type=int, default=2000, help="how many of them (default 2000)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: only checks that the table comes out")
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.max_exact, args.sample, args.sentences = "1500", 1000, 500, 200
    args.sizes = parse_numbers(args.sizes, "--sizes", int)
    return args


@command("cxlm-bench-mining")
def main(argv=None):
    args = parse_args(argv)
    report = {"threads": torch.get_num_threads(), "dim": DIM, "k": args.k, "mining": []}
    if args.checkpoint and args.data and args.text:
        report["embedding"] = embedding_throughput(args.checkpoint, args.data, args.text, args.sentences)
        e = report["embedding"]
        print(f"embedding: {e['sentences']} sentences in {e['seconds']:.1f} s: {e['sentences_per_s']:.0f} sentences/s")
    report["mining"] = mining_table(args.sizes, args.max_exact, args.sample, args.k)
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
