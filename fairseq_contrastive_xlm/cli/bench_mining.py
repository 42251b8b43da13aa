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
import multiprocessing
import resource
import time

import numpy as np
import torch

from ..evaluation import mining
from ..languages import parse_numbers
from . import command, write_json

DIM = 128
RECALL_QUERIES = 2000  # the first queries, searched by every method: the recall of IVF is measured on them


def planted(n: int, seed: int = 0):
    """n x DIM source and target vectors, unit length; the first n / 10 targets are noisy copies of sources."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    y = rng.standard_normal((n, DIM), dtype=np.float32)
    translated = n // 10
    y[:translated] = x[:translated] + 0.5 * rng.standard_normal((translated, DIM), dtype=np.float32)
    return mining.unit_rows(x), mining.unit_rows(y)


def torch_knn(queries: np.ndarray, database: np.ndarray, k: int, block: int = 4096):
    """Exact k nearest neighbours by inner product, block x block at a time with a running top k."""
    q_all, d_all = torch.from_numpy(queries), torch.from_numpy(database)
    sims = torch.empty(len(queries), k)
    ids = torch.empty(len(queries), k, dtype=torch.long)
    for start in range(0, len(queries), block):
        q = q_all[start : start + block]
        best_s = torch.full((len(q), k), -float("inf"))
        best_i = torch.zeros((len(q), k), dtype=torch.long)
        for d_start in range(0, len(d_all), block):
            scores = q @ d_all[d_start : d_start + block].T
            top_s, top_i = scores.topk(min(k, scores.size(1)), dim=1)
            merged_s = torch.cat([best_s, top_s], dim=1)
            merged_i = torch.cat([best_i, top_i + d_start], dim=1)
            best_s, order = merged_s.topk(k, dim=1)
            best_i = merged_i.gather(1, order)
        sims[start : start + block], ids[start : start + block] = best_s, best_i
    return sims.numpy(), ids.numpy()


def _measure(method, n, sample, k, results):
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # what the process held when it started
    x, y = planted(n)
    began = time.perf_counter()
    queries = (x, y) if sample is None else (x[:sample], y[:sample])
    found = []
    for q, database in zip(queries, (y, x)):  # both directions, as mining does
        if method == "torch":
            found.append(torch_knn(q, database, k)[1])
        else:
            found.append(mining.knn(q, database, k, method)[1])
    seconds = time.perf_counter() - began
    scale = 1.0 if sample is None else n / sample
    results.put(
        {
            "seconds": seconds * scale,
            "extrapolated": sample is not None,
            "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_rss) / 1024,
            "top1": found[0][:RECALL_QUERIES, 0].tolist(),
        }
    )


def measure(method, n, sample, k):
    """Run one method in a fresh process (its own peak memory). Spawned, not forked: a fork of a process whose
    OpenMP threads (torch's, faiss's) have started can hang in the child."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_measure, args=(method, n, sample, k, results))
    process.start()
    result = results.get()
    process.join()
    return result


def embedding_throughput(args):
    from ..evaluation.embedding import SentenceEmbedder, text_lines

    sentences = [line for line, _ in zip(text_lines(args.text), range(args.sentences))]
    embedder = SentenceEmbedder(args.checkpoint, args.data, cpu=True)
    embedder.embed(sentences[:64], None)  # warm-up
    began = time.perf_counter()
    embedder.embed(sentences, None, batch_size=64)
    seconds = time.perf_counter() - began
    return {"sentences": len(sentences), "seconds": seconds, "sentences_per_s": len(sentences) / seconds}


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
        report["embedding"] = embedding_throughput(args)
        e = report["embedding"]
        print(f"embedding: {e['sentences']} sentences in {e['seconds']:.1f} s: {e['sentences_per_s']:.0f} sentences/s")
    print(f"{'n a side':>10} {'method':>8} {'seconds':>9} {'peak MB':>12} {'top-1 as exact':>15}")
    for n in args.sizes:
        sample = args.sample if n > args.max_exact else None
        rows = {method: measure(method, n, sample if method != "ivf" else None, args.k) for method in ("flat", "torch")}
        rows["ivf"] = measure("ivf", n, None, args.k)
        exact_top1 = np.asarray(rows["flat"]["top1"])
        for method, row in rows.items():
            top1 = np.asarray(row["top1"])
            shared = min(len(top1), len(exact_top1))
            row["recall_vs_exact"] = float(np.mean(top1[:shared] == exact_top1[:shared]))
            seconds = f"{row['seconds']:.1f}{'*' if row['extrapolated'] else ''}"
            print(f"{n:>10} {method:>8} {seconds:>9} {row['peak_mb']:>12.0f} {row['recall_vs_exact']:>15.3f}")
            report["mining"].append({"n": n, "method": method, **{k: v for k, v in row.items() if k != "top1"}})
    print("* extrapolated from a sample of queries")
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
