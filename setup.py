from setuptools import find_packages, setup

# transformers reads a SentencePiece model through protobuf when it builds the exported tokenizer.
HF = ["transformers>=5,<6", "tokenizers", "safetensors", "huggingface_hub", "protobuf"]
# The test and style tools (their pins: requirements-dev.txt, which make test installs).
DEV = ["pytest>=8", "pytest-xdist>=3", "ruff>=0.6"]

setup(
    name="fairseq-contrastive-xlm",
    version="0.1.0",
    description="Contrastive learning (NT-Xent over translation pairs) for cross-lingual LM pretraining: "
    "a fairseq plugin",
    long_description=open("README.md", encoding="utf-8").read(),  # the front page; docs/ holds the rest
    long_description_content_type="text/markdown",
    license="MIT",
    # The pinned fairseq 0.12 build (requirements-fairseq.txt) is a CPython 3.11 wheel for x86-64 Linux only: the
    # official fairseq 0.12.2 sdist no longer builds and predates Python 3.11 (README, "Installation").
    python_requires="==3.11.*",
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Operating System :: POSIX :: Linux",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
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
            "cxlm-extend-vocab = fairseq_contrastive_xlm.cli.extend_vocab:main",
        ],
    },
    # What the package imports. fairseq itself is installed apart (above), so its own runtime needs are listed here.
    install_requires=[
        "torch>=2.6",  # the weights-only checkpoint loader that compat.py allow-lists for
        "numpy>=1.24,<2",  # fairseq 0.12 calls np.compat.long, which NumPy 2 removed
        "sentencepiece>=0.2",
        "protobuf",  # SentencePiece's ModelProto, which cxlm-extend-vocab appends pieces to
        "sacremoses>=0.1",  # XLM's Moses tokenization (cxlm-prepare --tokenizer xlm, XLM imports)
        "PyYAML>=6",
        "matplotlib>=3.7",
        "scikit-learn>=1.3",
        "tqdm>=4.60",
        "zstandard>=0.20",  # corpora compressed with zstd, read without unpacking (text_files.py)
        "submitit>=1.4",  # cxlm-prepare --parts: its parts as local processes or SLURM jobs
        # fairseq 0.12's runtime needs (its metadata would also pull torchaudio, which replaces torch)
        "hydra-core>=1.3,<1.4",
        "omegaconf>=2.3,<2.4",
        "bitarray>=2",
        "regex",
        "sacrebleu>=1.4.12",
        "cffi",
        "packaging",
        # fairseq's text_to_speech task logs "Please install tensorboardX" on every import without it, before any
        # message of ours; it also serves --tensorboard-logdir
        "tensorboardX>=2.6",
    ],
    # Optional parts: a missing one is named with its extra in one line (optional.py).
    extras_require={
        "hf": HF,  # cxlm-import hf, cxlm-export-hf
        "st": [*HF, "sentence-transformers>=6,<7"],  # --st-model, the export's sentence-transformers modules
        "mining": ["faiss-cpu>=1.7"],  # cxlm-mine, cxlm-bench-mining
        "logging": ["wandb>=0.17"],  # fairseq's --wandb-project
        "dev": DEV,
        "all": [*HF, "sentence-transformers>=6,<7", "faiss-cpu>=1.7", "wandb>=0.17"],
    },
)
