"""Grounding DINO with random weights and a made-up vocabulary, for tests and benchmarks.

No detector weights can be downloaded where this project is built, so the detector
plumbing is tested on a model built here: ``"test"`` is a few-layer miniature that runs in
a fraction of a second; ``"tiny"`` is the architecture of ``IDEA-Research/grounding-dino-tiny``
(Swin-T backbone, BERT-base text encoder, 900 queries, images resized to 800 px on the short
side), whose cost per image is the real model's. The tokenizer is a BERT WordPiece tokenizer
over the given words (plus BERT's special tokens and punctuation), made in memory.
Needs ``transformers`` (``StandInDetector`` does not).
"""

from __future__ import annotations

import os
from typing import Iterable, List, Sequence, Tuple

class StandInDetector:
    """A detector with known answers: the given ``Detection``s whose label was asked for, whatever
    the image. ``calls`` records each ``(image shape, labels)`` it was asked, to check the plumbing."""

    name = "stand-in"

    def __init__(self, detections: Sequence[object]) -> None:
        self.detections = list(detections)
        self.calls: List[Tuple[tuple, Tuple[str, ...]]] = []

    def detect(self, image, labels: Sequence[str]) -> list:
        self.calls.append((tuple(image.shape), tuple(labels)))
        return [d for d in self.detections if d.label in labels]


_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_PUNCTUATION = tuple(".,;:!?'\"()-")


def word_tokenizer(words: Iterable[str]):
    """A BERT tokenizer whose vocabulary is BERT's special tokens, punctuation and ``words``."""
    from transformers import BertTokenizer

    vocab = {}
    for token in _SPECIAL + _PUNCTUATION + tuple(w.lower() for phrase in words for w in phrase.split()):
        vocab.setdefault(token, len(vocab))
    return BertTokenizer(vocab=vocab)


def grounding_dino_config(size: str = "test", vocab_size: int = 30522):
    """``"test"`` (miniature) or ``"tiny"`` (grounding-dino-tiny's architecture)."""
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    if size == "tiny":
        return GroundingDinoConfig()  # transformers' defaults are grounding-dino-tiny's architecture
    if size != "test":
        raise ValueError(f"size must be 'test' or 'tiny', got {size!r}")
    return GroundingDinoConfig(
        backbone_config=SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
                                   image_size=64, out_features=["stage2", "stage3", "stage4"]),
        text_config=BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=37),
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=30, max_text_len=64,
        num_feature_levels=4, encoder_n_points=2, decoder_n_points=2,
    )


def random_grounding_dino(words: Iterable[str], size: str = "test", seed: int = 0) -> Tuple[object, object]:
    """``(model, processor)``: a seeded random Grounding DINO and its PIL-based processor."""
    import torch
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    tokenizer = word_tokenizer(words)
    config = grounding_dino_config(size, vocab_size=max(len(tokenizer), 8) if size == "test" else 30522)
    image_size = {"shortest_edge": 96, "longest_edge": 160} if size == "test" else None
    image_processor = GroundingDinoImageProcessorPil(**({"size": image_size} if image_size else {}))
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(config).eval()
    return model, GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)


def save_random_grounding_dino(folder: str, words: Iterable[str], size: str = "test", seed: int = 0) -> str:
    """Write a random Grounding DINO as a model folder ``load_detector(folder)`` reads."""
    model, processor = random_grounding_dino(words, size, seed)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_random_owlv2(folder: str, words: Iterable[str], seed: int = 0) -> str:
    """Write a miniature random OWLv2 (64 px images, 16 patches) as a model folder.

    Its CLIP BPE tokenizer knows each word as one token (its characters plus the merges
    that rebuild it). The class head's learned scale and shift are set to 1 and 0, so the
    scores are spread out instead of all rounding to 0 as random ones would make them.
    """
    import torch
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

    # OWL-ViT/OWLv2 treat a text query whose first id is 0 as padding: BOS must not be id 0.
    vocab = {"<|endoftext|>": 0, "<|startoftext|>": 1}
    merges = []
    for word in {w.lower() for phrase in words for w in phrase.split()}:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        for piece in pieces:
            vocab.setdefault(piece, len(vocab))
        merged = pieces[0]
        for piece in pieces[1:]:
            merges.append((merged, piece))
            merged = merged + piece
            vocab.setdefault(merged, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    processor = Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 64, "width": 64}),
                               tokenizer=tokenizer)
    small = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)
    config = Owlv2Config(
        text_config=dict(vocab_size=len(vocab), max_position_embeddings=16, bos_token_id=1, eos_token_id=0,
                         pad_token_id=0, **small),
        vision_config=dict(image_size=64, patch_size=16, **small),
        projection_dim=32,
    )
    torch.manual_seed(seed)
    model = Owlv2ForObjectDetection(config).eval()
    with torch.no_grad():
        for layer, bias in ((model.class_head.logit_scale, 0.0), (model.class_head.logit_shift, 0.0)):
            layer.weight.zero_()
            layer.bias.fill_(bias)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
