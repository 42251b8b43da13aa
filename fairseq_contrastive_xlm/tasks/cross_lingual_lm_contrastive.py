"""cross_lingual_lm_contrastive: XLM's MLM and TLM, plus translation pairs as NT-Xent views.

Reads one data directory (see data/data_directory.py and docs/data.md) and builds, for each split, a
batch that holds an MLM sub-batch (monolingual blocks of the --mlm-langs), a TLM sub-batch (pairs of
the --tlm-pairs) and the paired views of the --ntxent-pairs, each part present only when enabled.
"""

import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

from fairseq.data import TokenBlockDataset
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from fairseq.tasks.language_modeling import SAMPLE_BREAK_MODE_CHOICES
from omegaconf import II, MISSING

from ..data.collate import without_pairs
from ..data.data_directory import DataDirectory
from ..data.masking import MaskingScheme
from ..data.monolingual import MaskedBlocks
from ..data.multi_objective import MultiObjectiveDataset
from ..data.parallel import PairedViews, ParallelCorpus, TLMPairs
from ..data.sampling import sampling_probs
from ..errors import UserInputError
from ..languages import XNLI_LANGUAGES, parse_langs, parse_pairs
from ..model_wrappers import unwrap

logger = logging.getLogger(__name__)


@dataclass
class CrossLingualLMContrastiveConfig(FairseqDataclass):
    data: str = field(
        default=MISSING,
        metadata={
            "help": "data directory: dict.txt, mono/<lang>/ and para/<src>-<tgt>/ (see docs/data.md); or shards "
            "DIR/shard0:DIR/shard1:... (fairseq's way): epoch k trains on shard (k - 1) mod N, validation on the first"
        },
    )
    mlm_langs: str = field(
        default="", metadata={"help": "comma-separated languages for MLM on monolingual data; empty: no MLM"}
    )
    tlm_pairs: str = field(
        default="", metadata={"help": "comma-separated pairs for TLM on parallel data, e.g. en-de,en-fr; empty: no TLM"}
    )
    ntxent_pairs: Optional[str] = field(
        default=None,
        metadata={
            "help": "comma-separated pairs whose translations are the positive views of NT-Xent; "
            "default: the TLM pairs; 'none': no contrastive loss"
        },
    )
    mlm_on_views: bool = field(
        default=False,
        metadata={
            "help": "mask the NT-Xent views as MLM samples and train MLM on them in the same forward that "
            "embeds them (logged as views_mlm_loss): the contrastive term then costs only the pooling, the "
            "projection head and the similarities. Each side is still encoded without its translation. "
            "Off: unmasked views, encoded in a forward of their own"
        },
    )
    ntxent_pack_views: bool = field(
        default=True,
        metadata={
            "help": "pack the NT-Xent views, whose lengths are mixed within a batch, into rows as wide as the "
            "longest, each token attending only within its own sentence: almost no padding, the same "
            "embeddings. Done by the collater; --max-tokens counts the packed rows. Off: one row a view, "
            "padded to the longest (and counted so)"
        },
    )
    langs: str = field(
        default=",".join(XNLI_LANGUAGES),
        metadata={
            "help": "ordered language list; a language's id (for language embeddings) is its place here. "
            "Every language named by the options above must be in it. The model's language table is this one "
            "(one --langs fills both; the Hydra configs interpolate model.langs from it); empty: the languages the "
            "options above name, for a model without language embeddings"
        },
    )
    lang_sampling_alpha: float = field(
        default=0.5,
        metadata={
            "help": "language-balanced sampling exponent: a language (or pair) is drawn with probability "
            "proportional to its share of the data ** alpha (XLM: 0.5, XLM-R: 0.3; 1: natural shares)"
        },
    )
    tokens_per_sample: int = field(
        default=256,
        metadata={"help": "maximum tokens of an MLM block and of a TLM pair (both sides); longer pairs are dropped"},
    )
    sample_break_mode: SAMPLE_BREAK_MODE_CHOICES = field(
        default="complete",
        metadata={
            "help": "how MLM blocks are cut from the monolingual stream: 'none' fills every block, "
            "'complete' keeps sentences whole, 'eos' one sentence per block"
        },
    )
    mask_prob: float = field(default=0.15, metadata={"help": "share of tokens chosen for prediction"})
    leave_unmasked_prob: float = field(default=0.1, metadata={"help": "share of chosen tokens left unchanged"})
    random_token_prob: float = field(default=0.1, metadata={"help": "share of chosen tokens replaced by a random word"})
    seed: int = II("common.seed")
    train_subset: str = II("dataset.train_subset")


@register_task("cross_lingual_lm_contrastive", dataclass=CrossLingualLMContrastiveConfig)
class CrossLingualLMContrastiveTask(FairseqTask):
    cfg: CrossLingualLMContrastiveConfig

    def __init__(self, cfg, shards, dictionary, mlm_langs, tlm_pairs, ntxent_pairs, langs):
        super().__init__(cfg)
        self.shards = shards  # the data directories of --data; one unless sharded
        self.data_dir = shards[0]  # the dictionary's, and validation's
        self.dictionary = dictionary
        self.mask_idx = dictionary.add_symbol("<mask>")
        self.mlm_langs = mlm_langs
        self.tlm_pairs = tlm_pairs
        self.ntxent_pairs = ntxent_pairs
        self.langs = langs
        self.masking = MaskingScheme.for_dictionary(
            dictionary,
            self.mask_idx,
            mask_prob=cfg.mask_prob,
            leave_unmasked_prob=cfg.leave_unmasked_prob,
            random_token_prob=cfg.random_token_prob,
        )

    @classmethod
    def setup_task(cls, cfg: CrossLingualLMContrastiveConfig, **kwargs):
        shards = [DataDirectory(path) for path in cfg.data.split(os.pathsep)]
        data_dir = shards[0]
        mlm_langs = parse_langs(cfg.mlm_langs, "--mlm-langs")
        tlm_pairs = parse_pairs(cfg.tlm_pairs, "--tlm-pairs")
        if cfg.ntxent_pairs is None:
            ntxent_pairs = list(tlm_pairs)
        else:
            ntxent_pairs = parse_pairs("" if cfg.ntxent_pairs.strip() == "none" else cfg.ntxent_pairs, "--ntxent-pairs")
        named = mlm_langs + [lang for pair in tlm_pairs + ntxent_pairs for lang in pair]
        # Empty: no language table (what cxlm-import records for XLM-R, which has no language embeddings), so no
        # id to keep: the languages the options name.
        langs = parse_langs(cfg.langs, "--langs") or list(dict.fromkeys(named))
        if cfg.mlm_on_views and not ntxent_pairs:
            raise UserInputError("--mlm-on-views masks the NT-Xent views, but there are none (--ntxent-pairs none)")
        unknown = sorted(set(named) - set(langs))
        if unknown:
            raise UserInputError(
                f"language(s) {', '.join(unknown)} are not in --langs ({','.join(langs)}); add them there"
            )
        if cfg.tokens_per_sample < 4:
            raise UserInputError(f"--tokens-per-sample must be at least 4, got {cfg.tokens_per_sample}")
        for shard in shards:
            data_dir.check_same_dictionary(shard)
            dirs = [shard.mono_dir(lang) for lang in mlm_langs]
            dirs += [shard.pair_dir(pair)[0] for pair in tlm_pairs + ntxent_pairs]
            shard.check_dictionaries(sorted(set(dirs)))
            shard.check_binaries(sorted(set(dirs)))
        dictionary = data_dir.load_dictionary()
        logger.info("dictionary: %d types (%s)", len(dictionary), data_dir.dictionary_path)
        return cls(cfg, shards, dictionary, mlm_langs, tlm_pairs, ntxent_pairs, langs)

    def directory_of(self, split: str, epoch: int) -> DataDirectory:
        """Training reads shard (epoch - 1) mod N, as fairseq's own tasks do; every other split the first shard."""
        if split != self.cfg.train_subset:
            return self.shards[0]
        return self.shards[(epoch - 1) % len(self.shards)]

    @property
    def has_ntxent(self) -> bool:
        return bool(self.ntxent_pairs)

    def lang_id(self, lang: str) -> int:
        return self.langs.index(lang)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        # Checked here, not in setup_task: a task with no objective still serves a checkpoint's dictionary and
        # language table to the evaluation commands (an imported checkpoint records one).
        if not (self.mlm_langs or self.tlm_pairs or self.ntxent_pairs):
            raise UserInputError("nothing to train: give --mlm-langs, --tlm-pairs and/or --ntxent-pairs")
        directory = self.directory_of(split, epoch)
        if len(self.shards) > 1:
            logger.info("%s, epoch %d: shard %s", split, epoch, directory.path)
        stream = itertools.count()  # a distinct masking stream for every dataset
        objectives = {}
        if self.mlm_langs:
            objectives["mlm"] = [self._masked_blocks(directory, lang, split, next(stream)) for lang in self.mlm_langs]
        corpora = {}
        for pair in self.tlm_pairs + self.ntxent_pairs:
            if pair not in corpora:
                corpora[pair] = self._parallel_corpus(directory, pair, split)
        if self.tlm_pairs:
            bos, eos = self.dictionary.bos(), self.dictionary.eos()
            objectives["tlm"] = [
                TLMPairs(corpora[pair], bos, eos, self.masking, self.cfg.seed, next(stream)) for pair in self.tlm_pairs
            ]
        if self.ntxent_pairs:
            masking = self.masking if self.cfg.mlm_on_views else None
            objectives["ntxent"] = [
                PairedViews(
                    corpora[pair],
                    self.dictionary.bos(),
                    self.dictionary.pad(),
                    masking,
                    self.cfg.seed,
                    next(stream),
                    self.cfg.ntxent_pack_views,
                )
                for pair in self.ntxent_pairs
            ]
        random_draws = split == self.cfg.train_subset
        dataset = MultiObjectiveDataset(objectives, self.cfg.lang_sampling_alpha, self.cfg.seed, random_draws)
        for name, datasets in dataset.objectives.items():
            counts = dataset.counts[name]
            probs = sampling_probs(counts, self.cfg.lang_sampling_alpha) if random_draws else counts / counts.sum()
            names = (
                self.mlm_langs
                if name == "mlm"
                else ["-".join(p) for p in (self.tlm_pairs if name == "tlm" else self.ntxent_pairs)]
            )
            logger.info(
                "%s %s: %s",
                split,
                name,
                ", ".join(f"{n} {c} items (p={p:.3f})" for n, c, p in zip(names, counts, probs)),
            )
        logger.info("%s: %d items per epoch", split, len(dataset))
        self.datasets[split] = dataset
        return dataset

    def _masked_blocks(self, directory, lang, split, stream):
        prefix = os.path.join(directory.mono_dir(lang), split)
        sentences = directory.load_split(prefix, self.dictionary, f"monolingual {split} data of '{lang}'")
        if len(sentences) == 0:
            raise UserInputError(f"monolingual {split} data of '{lang}' ({prefix}.bin) has no sentences")
        blocks = TokenBlockDataset(
            sentences,
            sentences.sizes,
            self.cfg.tokens_per_sample - 1,  # one place for <s>
            pad=self.dictionary.pad(),
            eos=self.dictionary.eos(),
            break_mode=self.cfg.sample_break_mode,
        )
        return MaskedBlocks(
            blocks,
            self.lang_id(lang),
            self.dictionary.bos(),
            self.cfg.tokens_per_sample,
            self.masking,
            self.cfg.seed,
            stream,
        )

    def _parallel_corpus(self, directory, pair, split):
        pair_dir, stored = directory.pair_dir(pair)
        prefix = os.path.join(pair_dir, f"{split}.{'-'.join(stored)}.")
        name = "-".join(pair)
        sides = [
            directory.load_split(prefix + lang, self.dictionary, f"parallel {split} data of '{name}'") for lang in pair
        ]
        corpus = ParallelCorpus(
            *sides,
            self.lang_id(pair[0]),
            self.lang_id(pair[1]),
            self.cfg.tokens_per_sample,
            name,
            prefix + pair[0] + ".bin",
            prefix + pair[1] + ".bin",
        )
        if len(corpus) == 0:
            raise UserInputError(
                f"parallel {split} data of '{name}' ({prefix}*) has no pair that fits --tokens-per-sample "
                f"{self.cfg.tokens_per_sample} ({corpus.dropped} pairs are longer)"
            )
        if corpus.dropped:
            logger.info(
                "%s %s: dropped %d of %d pairs longer than --tokens-per-sample %d",
                split,
                name,
                corpus.dropped,
                corpus.dropped + len(corpus),
                self.cfg.tokens_per_sample,
            )
        return corpus

    def build_model(self, cfg, from_checkpoint=False):
        max_positions = getattr(cfg, "max_positions", None)
        if max_positions is not None and self.cfg.tokens_per_sample > max_positions:
            raise UserInputError(
                f"--tokens-per-sample {self.cfg.tokens_per_sample} exceeds the model's --max-positions {max_positions}"
            )
        return super().build_model(cfg, from_checkpoint)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        """fairseq's step; the criterion is told the update, as fairseq tells the model (lambda's warm-up).
        ignore_grad marks fairseq's dummy batch (a copy of an earlier batch, on a worker that ran
        out of data this epoch): its views must not become negatives of the other workers' pairs nor keys in the
        queue, so its pairs are made inactive (it still runs, to take part in the workers' gathers)."""
        if ignore_grad and "ntxent" in sample:
            sample = {**sample, "ntxent": without_pairs(sample["ntxent"])}
        if hasattr(unwrap(criterion), "set_num_updates"):
            unwrap(criterion).set_num_updates(update_num)
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def optimizer_step(self, optimizer, model, update_num):
        """fairseq's update, then the momentum encoder of the NT-Xent negatives queue follows the model."""
        super().optimizer_step(optimizer, model, update_num)
        unwrap(model).momentum_update()

    def max_positions(self):
        return self.cfg.tokens_per_sample

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
