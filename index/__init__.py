"""Articles in, a persisted and incrementally updated FAISS index out."""
