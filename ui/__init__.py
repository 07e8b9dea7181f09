"""Presentation: the command line and the Gradio chat, over rag/ and index/."""
