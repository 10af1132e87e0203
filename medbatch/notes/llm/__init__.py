"""What every LLM engine shares: prompts, response schemas, parsing and verification, retry.

A backend (vLLM offline, an OpenAI-compatible server) only turns chat requests into completions; the model
proposes strings, and code here locates and verifies them in the note ("the LLM proposes, code disposes").
"""
