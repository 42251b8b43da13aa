"""cxlm-bench-mining's measurements: sentences per second of cxlm-embed's path, and the exact faiss index, the IVF
index and a blockwise torch product mining planted translations among n x n vectors, each in a fresh process so
its peak memory is its own, with the recall of each against the exact index."""

import multiprocessing
import resource
import time

import numpy as np
import torch

from ..evaluation import mining

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
    """Run one method in a fresh process (its own peak memory). Forked from a fork server, never from this process:
    a fork of a process whose OpenMP threads (torch's, faiss's) have started can hang in the child. The server
    imports this module once (torch, faiss, fairseq: 6 s), so each measurement starts at once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # read when the server starts: the first measurement
    results = context.Queue()
    process = context.Process(target=_measure, args=(method, n, sample, k, results))
    process.start()
    result = results.get()
    process.join()
    return result


def embedding_throughput(checkpoint, data, text, sentences):
    """Sentences per second of cxlm-embed's path on CPU: the first `sentences` lines of `text`, embedded by the
    checkpoint (with its data directory) after a warm-up."""
    from ..evaluation.embedding import SentenceEmbedder
    from ..text_files import text_lines

    lines = [line for line, _ in zip(text_lines(text), range(sentences))]
    embedder = SentenceEmbedder(checkpoint, data, cpu=True)
    embedder.embed(lines[:64], None)  # warm-up
    began = time.perf_counter()
    embedder.embed(lines, None, batch_size=64)
    seconds = time.perf_counter() - began
    return {"sentences": len(lines), "seconds": seconds, "sentences_per_s": len(lines) / seconds}


def mining_table(sizes, max_exact, sample, k):
    """Every method at every size n (vectors a side), printed as one row each; returns the rows. Above max_exact
    the exact methods search `sample` queries per direction and their time is extrapolated."""
    rows_out = []
    print(f"{'n a side':>10} {'method':>8} {'seconds':>9} {'peak MB':>12} {'top-1 as exact':>15}")
    for n in sizes:
        sampled = sample if n > max_exact else None
        rows = {method: measure(method, n, sampled if method != "ivf" else None, k) for method in ("flat", "torch")}
        rows["ivf"] = measure("ivf", n, None, k)
        exact_top1 = np.asarray(rows["flat"]["top1"])
        for method, row in rows.items():
            top1 = np.asarray(row["top1"])
            shared = min(len(top1), len(exact_top1))
            row["recall_vs_exact"] = float(np.mean(top1[:shared] == exact_top1[:shared]))
            seconds = f"{row['seconds']:.1f}{'*' if row['extrapolated'] else ''}"
            print(f"{n:>10} {method:>8} {seconds:>9} {row['peak_mb']:>12.0f} {row['recall_vs_exact']:>15.3f}")
            rows_out.append({"n": n, "method": method, **{key: v for key, v in row.items() if key != "top1"}})
    print("* extrapolated from a sample of queries")
    return rows_out
