"""cxlm-bench: what it counts and measures, and a tiny smoke run that must produce every table and target.
Speed itself is not tested here (timings belong to the benchmark, not to the suite)."""

import json
import re
import types

import pytest
import torch

from fairseq_contrastive_xlm.benchmarks.trainer import StepMemory, lm_tokens

from helpers import batch_of, build_task, run_tool


def test_lm_tokens_count_only_sequences_with_an_lm_loss(data_dir):
    plain = build_task(data_dir)
    plain.load_dataset("valid")
    batch = batch_of(plain, "valid", range(6))
    assert lm_tokens(batch) == batch["mlm"]["ntokens"] + batch["tlm"]["ntokens"] < batch["ntokens"]
    masked = build_task(data_dir, mlm_on_views=True)
    masked.load_dataset("valid")
    batch = batch_of(masked, "valid", range(6))
    assert lm_tokens(batch) == batch["ntokens"]  # masked views carry an MLM loss too
    assert lm_tokens({"ntokens": 123, "net_input": {}, "target": None}) == 123  # fairseq's masked_lm batch


def test_step_memory_on_cpu_counts_the_tensors_saved_for_backward():
    weight = torch.nn.Parameter(torch.randn(256, 256))
    x = torch.randn(64, 256, requires_grad=True)
    with StepMemory(torch.device("cpu"), exclude=[weight]) as memory:
        hidden = torch.exp(x @ weight)  # saves x and the weight (matmul) and exp's output; the weight is excluded
        hidden.sum().backward()
    assert memory.mb * 2**20 == pytest.approx(x.numel() * 4 + hidden.numel() * 4)
    with StepMemory(torch.device("cpu")) as with_weight:
        torch.exp(x @ weight).sum().backward()
    assert with_weight.mb * 2**20 == pytest.approx(memory.mb * 2**20 + weight.numel() * 4)


def test_ratios_are_taken_round_by_round_with_their_spread(capsys):
    """A drift that slows every run of a round alike leaves the paired ratio unchanged: its spread is 0, while
    the runs' own tokens/s spread by 2x."""
    from fairseq_contrastive_xlm.benchmarks import report
    from fairseq_contrastive_xlm.benchmarks.training import MLM, MLM_TLM, ON_VIEWS, SEPARATE, STOCK

    def run(tokens_per_s, lm_share):
        windows = [{"tokens_per_s": tokens_per_s * d, "lm_tokens_per_s": tokens_per_s * d * lm_share} for d in (1, 0.5)]
        return {"windows": windows}

    results = {STOCK: run(100, 1), MLM: run(95, 1), MLM_TLM: run(90, 1)}
    results |= {name: run(60, 1) for name in ON_VIEWS.values()}
    results |= {name: run(90, 0.8) for name in SEPARATE.values()}
    results[SEPARATE["max"]]["windows"][1]["lm_tokens_per_s"] = 90 * 0.5 * 0.8 * 0.9  # one round 10% slower
    ratios, spreads = report.ratios_of(results)
    assert ratios["b/a tokens/s"] == pytest.approx(0.95) and spreads["b/a tokens/s"] == 0
    assert ratios["d/c time per LM token (--mlm-on-views, mean)"] == pytest.approx(1.5)
    assert ratios["d/c time per LM token (separate views, mean)"] == pytest.approx(1.25)
    slow = [1.25, 1.25 / 0.9]
    assert ratios["d/c time per LM token (separate views, max)"] == pytest.approx(sum(slow) / 2)
    assert spreads["d/c time per LM token (separate views, max)"] == pytest.approx(
        (slow[1] - slow[0]) / (sum(slow) / 2)
    )
    assert "over 2 rounds" in capsys.readouterr().out


def test_interleaved_runs_take_turns_step_by_step(monkeypatch):
    """The machine at half speed for the first half of every round: runs timed a window each would see one of
    them at half speed; taking turns step by step, every run sees the same halves and their ratio stays 1."""
    from fairseq_contrastive_xlm.benchmarks import training

    order = []

    class Run(training.TimedRun):
        def __init__(self, name, argv, settings, device):
            self.name, self.settings, self.device, self.windows = name, settings, device, []
            self.tokens = self.lm_tokens = 100 * settings.updates

        def timed_step(self, index):
            slow = (len(order) // len(names)) % settings.updates < settings.updates // 2
            order.append((self.name, index))
            return 2.0 if slow else 1.0

        def finish(self):
            return {"windows": self.windows}

    monkeypatch.setattr(training, "TimedRun", Run)
    names = ["a", "b", "c"]
    settings = types.SimpleNamespace(updates=4, repeats=3)
    results = training.run_interleaved({name: [] for name in names}, settings, torch.device("cpu"))
    assert len(order) == 3 * 4 * 3
    for step in range(0, len(order), len(names)):  # each step index taken by every run, in a rotated order
        turn = order[step : step + len(names)]
        assert {name for name, _ in turn} == set(names) and len({index for _, index in turn}) == 1
        assert turn[0][0] == names[(step // len(names)) % len(names)]
    for name in names:
        assert [w["tokens_per_s"] for w in results[name]["windows"]] == [400 / 6] * 3


def test_smoke_run_prints_every_table_and_target(data_dir, tmp_path, run_command):
    out = tmp_path / "bench.json"
    result = run_command("cxlm-bench", "--data", data_dir, "--smoke", "--json", str(out))
    text = result.stdout
    for run in (
        "a fairseq masked_lm+roberta",
        "b ours MLM",
        "c ours MLM+TLM",
        "d +NT-Xent, mean",
        "d +NT-Xent, first",
        "d +NT-Xent, max",
        "e +NT-Xent --mlm-on-views, mean",
        "e +NT-Xent --mlm-on-views, first",
        "e +NT-Xent --mlm-on-views, max",
    ):
        assert re.search(rf"^{re.escape(run)}\s+[\d.]+\s+\d+", text, re.M), run
    targets = re.findall(r"^target (\S+) ([\d.e+-]+) (<=|>=)([\d.]+) (ok|short)$", text, re.M)
    assert [t[0] for t in targets] == [
        "data_path_b_over_a_tokens_per_s",
        "contrastive_d_over_c_time_per_lm_token_mlm_on_views",
        "contrastive_d_over_c_time_per_lm_token_separate_views",
        "contrastive_d_over_c_time_per_lm_token_defaults",
        "ntxent_1024_negatives_share_of_step_smoke",
        "largest_ratio_spread",
    ]
    for name, measured, sign, goal, verdict in targets:
        met = float(measured) <= float(goal) if sign == "<=" else float(measured) >= float(goal)
        assert verdict == ("ok" if met else "short"), name
    numbers = json.loads(out.read_text())
    runs = numbers["runs"]
    assert all(r["tokens_per_s"] > 0 and r["step_memory_mb"] > 0 for r in runs.values())
    assert all(len(r["windows"]) == 2 for r in runs.values())  # --smoke: 2 rounds, one window of each run a round
    spreads = numbers["ratio_spreads"]
    assert set(spreads) == set(numbers["ratios"]) and all(s >= 0 for s in spreads.values())
    # plain views carry no LM loss, masked views do
    assert runs["d +NT-Xent, first"]["lm_tokens_per_batch"] < runs["d +NT-Xent, first"]["tokens_per_batch"]
    assert runs["e +NT-Xent --mlm-on-views, first"]["lm_tokens_per_batch"] == pytest.approx(
        runs["e +NT-Xent --mlm-on-views, first"]["tokens_per_batch"]
    )
    assert set(numbers["ntxent_scaling"]) == {"256", "512", "1024"}
    scaling = numbers["ntxent_scaling"]
    assert scaling["1024"]["one_process_mb"] > 8 * scaling["256"]["one_process_mb"]  # the n x n matrix
    queue = [row for row in numbers["budget"] if row["how"] == "queue"][0]
    assert queue["negatives"] > 512 and queue["queue_memory_mb"] > 0


def test_gpu_check_runs_on_the_cpu_in_smoke_mode(data_dir, tmp_path, run_command):
    """The GPU check (fp16 and bf16 against fp32, packed views and the queue) runs here too: no GPU in CI."""
    out = tmp_path / "check.json"
    result = run_command("cxlm-bench", "--data", data_dir, "--gpu-check", "--smoke", "--json", str(out))
    report = json.loads(out.read_text())
    assert report["passed"] and "precision check on CPU (smoke model): passed" in result.stdout
    rows = {row["precision"]: row for row in report["precision_check"]}
    assert set(rows) == {"fp32", "fp16", "bf16"} and all(len(r["losses"]) == 3 for r in rows.values())
    assert 0 < rows["fp16"]["max_distance_bits"] <= 0.05 and 0 < rows["bf16"]["max_distance_bits"] <= 0.25


def test_mining_bench_smoke_prints_its_table(data_dir, tmp_path):
    """As a process: faiss's loader would log its skipped builds (swigfaiss) to the process's stderr."""
    out = tmp_path / "mining.json"
    result = run_tool("cxlm-bench-mining", "--smoke", "--json", str(out))
    report = json.loads(out.read_text())
    rows = {(r["n"], r["method"]): r for r in report["mining"]}
    assert set(rows) == {(1500, m) for m in ("flat", "torch", "ivf")}
    assert rows[(1500, "torch")]["recall_vs_exact"] == 1.0  # the blockwise product is exact too
    assert rows[(1500, "flat")]["extrapolated"] and not rows[(1500, "ivf")]["extrapolated"]
    assert "extrapolated from a sample" in result.stdout and "swigfaiss" not in result.stdout + result.stderr


def test_data_only_bench_compares_the_same_text_with_a_padded_vocabulary(data_dir, tmp_path, capsys):
    """cxlm-bench --data-only: both sides read the same repeated text with XLM-R's dictionary size, and the two
    ratios are printed and written."""
    from fairseq_contrastive_xlm.cli import bench

    out = tmp_path / "data.json"
    argv = ["--data", data_dir, "--lang", "de", "--data-only", "--items", "3000", "--batches", "20"]
    bench.main([*argv, "--vocab-size", "250002", "--max-tokens", "2048", "--json", str(out)])
    report = json.loads(out.read_text())["data_path"]
    ours, stock = report["ours"], report["stock"]
    assert ours["items"] == stock["items"] >= 3000 and report["vocab_size"] == 250002
    assert 0 < ours["tokens_per_batch"] <= 2048 and 0 < stock["tokens_per_batch"] <= 2048
    assert report["ratio"] == pytest.approx(ours["ms_per_batch"] / stock["ms_per_batch"])
    printed = capsys.readouterr().out
    assert re.search(r"target ratio [\d.]+ <= 1.1 (ok|short)", printed)
    assert re.search(r"target setup_ratio [\d.]+ <= 2.0 (ok|short)", printed)


def test_prepare_bench_writes_its_numbers(data_dir, tmp_path, run_command):
    """cxlm-bench --prepare on a small corpus with a given tokenizer: SentencePiece's speed and ours, in one run."""
    import os

    corpus = tmp_path / "corpus.txt"
    with open(os.path.join(data_dir, "..", "raw", "en-de.de"), encoding="utf-8") as f:
        corpus.write_text(f.read() * 2, encoding="utf-8")
    out = tmp_path / "prepare.json"
    vocabulary = ["--spm-model", os.path.join(data_dir, "spm.model"), "--dict", os.path.join(data_dir, "dict.txt")]
    result = run_command("cxlm-bench", "--prepare", corpus, *vocabulary, "--json", out)
    report = json.loads(out.read_text())["prepare"]
    for key in ("lines_per_s_per_worker", "spm_encode_lines_per_s", "ratio", "peak_rss_mb", "scaling_2_workers"):
        assert report[key] > 0, key
    assert report["ratio"] == pytest.approx(report["lines_per_s_per_worker"] / report["spm_encode_lines_per_s"])
    assert report["lines"] == 2 * len(open(os.path.join(data_dir, "..", "raw", "en-de.de")).read().splitlines())
    assert "ratio (ours per worker / SentencePiece 1 thread)" in result.stdout and "2 workers:" in result.stdout
