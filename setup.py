from setuptools import find_packages, setup

setup(
    name="fairseq-contrastive-xlm",
    version="0.1.0",
    description="Contrastive learning (NT-Xent over translation pairs) for cross-lingual LM pretraining: "
    "a fairseq plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["fairseq_contrastive_xlm", "fairseq_contrastive_xlm.*"]),
    package_data={"fairseq_contrastive_xlm": ["config/*.yaml", "config/*/*.yaml", "config/*/*/*.yaml"]},
    # fairseq is deliberately not listed: its metadata pulls torchaudio, which replaces the CPU torch with a
    # CUDA build. Install it from requirements-fairseq.txt with --no-deps (the Makefile does).
    entry_points={
        "console_scripts": [
            "cxlm-prepare = fairseq_contrastive_xlm.cli.prepare:main",
            "cxlm-gettext-corpus = fairseq_contrastive_xlm.cli.gettext_corpus:main",
            "cxlm-download = fairseq_contrastive_xlm.cli.download:main",
            "cxlm-xnli-prepare = fairseq_contrastive_xlm.cli.xnli_prepare:main",
            "cxlm-xnli-eval = fairseq_contrastive_xlm.cli.xnli_eval:main",
            "cxlm-xnli-grid = fairseq_contrastive_xlm.cli.xnli_grid:main",
            "cxlm-attention = fairseq_contrastive_xlm.cli.attention:main",
            "cxlm-retrieval = fairseq_contrastive_xlm.cli.retrieval:main",
            "cxlm-perplexity = fairseq_contrastive_xlm.cli.perplexity:main",
            "cxlm-embed-plot = fairseq_contrastive_xlm.cli.embed_plot:main",
            "cxlm-summarize = fairseq_contrastive_xlm.cli.summarize:main",
            "cxlm-bench = fairseq_contrastive_xlm.cli.bench:main",
            "cxlm-import = fairseq_contrastive_xlm.cli.import_checkpoint:main",
            "cxlm-export-hf = fairseq_contrastive_xlm.cli.export_hf:main",
            "cxlm-ablation-report = fairseq_contrastive_xlm.cli.ablation_report:main",
            "cxlm-embed = fairseq_contrastive_xlm.cli.embed:main",
            "cxlm-mine = fairseq_contrastive_xlm.cli.mine:main",
            "cxlm-bench-mining = fairseq_contrastive_xlm.cli.bench_mining:main",
        ],
    },
    install_requires=[
        "torch>=2.6",
        "numpy<2",
        "hydra-core>=1.3,<1.4",
        "omegaconf>=2.3,<2.4",
        "sentencepiece",
        "matplotlib",
        "scikit-learn",
        "tqdm",
    ],
)
