"""Text to vectors, and the vector store behind one protocol."""
